package firmware

// ESP32-family reset reasons as the reference sketch reports them in
// "#IB boot" when KeyArch names an ESP-IDF target: reason is
// esp_reset_reason() (esp_reset_reason_t, ESP-IDF esp_system.h), whose
// numbers mean something else than the ESP8266 SDK's rst_info.reason
// (0..6) — 1 is a watchdog on the ESP8266 and power-on on the ESP32.
// arduino-esp32 has no getResetReason() text, so reason_s is this table's
// text, shared with the sketch through testdata/reset32.txt.
var esp32ResetReasons = [...]struct{ name, text string }{
	{"ESP_RST_UNKNOWN", "Unknown"},
	{"ESP_RST_POWERON", "Power on"},
	{"ESP_RST_EXT", "External pin"},
	{"ESP_RST_SW", "Software restart"},
	{"ESP_RST_PANIC", "Panic"},
	{"ESP_RST_INT_WDT", "Interrupt watchdog"},
	{"ESP_RST_TASK_WDT", "Task watchdog"},
	{"ESP_RST_WDT", "Other watchdog"},
	{"ESP_RST_DEEPSLEEP", "Deep-sleep wake"},
	{"ESP_RST_BROWNOUT", "Brownout"},
	{"ESP_RST_SDIO", "SDIO"},
	{"ESP_RST_USB", "USB peripheral"},
	{"ESP_RST_JTAG", "JTAG"},
	{"ESP_RST_EFUSE", "eFuse error"},
	{"ESP_RST_PWR_GLITCH", "Power glitch"},
	{"ESP_RST_CPU_LOCKUP", "CPU lockup"},
}

// ESP32 reset reasons the decoder and the twin name.
const (
	ESP32ResetPowerOn  = 1
	ESP32ResetPanic    = 4
	ESP32ResetIntWDT   = 5
	ESP32ResetTaskWDT  = 6
	ESP32ResetWDT      = 7
	ESP32ResetBrownout = 9
)

// ESP32ResetReason returns the enum name and the sketch's text of an
// esp_reset_reason_t; numbers outside the table are ESP_RST_UNKNOWN.
func ESP32ResetReason(n int) (name, text string) {
	if n < 0 || n >= len(esp32ResetReasons) {
		n = 0
	}
	r := esp32ResetReasons[n]
	return r.name, r.text
}

// ArchESP8266 is KeyArch on the ESP8266; on the ESP32 family KeyArch is
// the ESP-IDF target (CONFIG_IDF_TARGET: esp32, esp32s3, esp32c3, …).
const ArchESP8266 = "esp8266"

// IsESP32Arch reports whether a boot line's arch value is an ESP-IDF
// target, so its reason is an esp_reset_reason_t. A line without arch
// comes from an ESP8266 build.
func IsESP32Arch(arch string) bool { return len(arch) >= 5 && arch[:5] == "esp32" }
