package decode

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// device-side.md §1.9: a normal ESP8266 power-on with the Arduino core.
const normalBoot = "\n ets Jan  8 2013,rst cause:1, boot mode:(3,6)\n\n" +
	"load 0x4010f000, len 3424, room 16 \n" +
	"tail 0\n" +
	"chksum 0x2e\n" +
	"load 0x3fff20b8, len 40, room 8 \n" +
	"tail 0\n" +
	"chksum 0x2b\n" +
	"csum 0x2b\n" +
	"v00048810\n" +
	"~ld\n"

func TestNormalBoot8266(t *testing.T) {
	evs := decodeText(normalBoot)
	want := []string{KindROMBanner, KindROMLoader, KindBootEboot, KindBootEboot}
	if len(evs) != len(want) {
		t.Fatalf("got %s", kinds(evs))
	}
	for i, k := range want {
		if evs[i].Kind != k {
			t.Fatalf("event %d: %s, want %s (%s)", i, evs[i].Kind, k, kinds(evs))
		}
		wellFormed(t, evs[i])
	}
	check(t, evs[0], Info, "power-on reset, booting from flash", "", map[string]string{"cause": "1", "cause_name": "POWERON_RESET", "mode": "flash", "mode_a": "3", "mode_b": "6", "chip": "ESP8266"})
	check(t, evs[1], Info, "eboot", "", map[string]string{"segments": "2", "chksum": "2b", "csum": "2b", "ok": "1", "image": "eboot"})
	if len(evs[1].Evidence) != 7 {
		t.Errorf("loader evidence: %q", evs[1].Evidence)
	}
	check(t, evs[2], Info, "v00048810", "", map[string]string{"version": "00048810"})
	check(t, evs[3], Info, "loading the application", "", map[string]string{"action": "ld", "ota": "false"})
}

func TestBanner8266Causes(t *testing.T) {
	cases := []struct {
		cause    int
		name     string
		words    string
		sev      Severity
		fixPiece string
	}{
		{0, "NO_MEAN", "never seen normally", Info, ""},
		{1, "POWERON_RESET", "power-on reset", Info, ""},
		{2, "EXT_RESET", "external reset, booting from flash (reset pin, ESP.restart(), or a crash/watchdog restart)", Info, ""},
		{3, "SW_RESET", "software reset", Info, ""},
		{4, "OWDT_RESET", "hardware watchdog reset", Warning, "hardware watchdog"},
		{5, "DEEPSLEEP_RESET", "deep-sleep wake", Info, ""},
		{6, "SDIO_RESET", "SDIO reset", Info, ""},
		{7, "UNKNOWN", "unknown reset cause 7", Error, "power-cycle"},
		{12, "UNKNOWN", "unknown reset cause 12", Error, "power-cycle"},
	}
	for _, c := range cases {
		line := fmt.Sprintf(" ets Jan  8 2013,rst cause:%d, boot mode:(3,7)", c.cause)
		e := one(t, decodeText(line), KindROMBanner)
		check(t, e, c.sev, c.words, c.fixPiece, map[string]string{"cause": fmt.Sprint(c.cause), "cause_name": c.name, "mode_b": "7"})
	}
}

func TestBanner8266BootModes(t *testing.T) {
	cases := []struct {
		a         int
		mode, sum string
		sev       Severity
		fix       string
	}{
		{0, "invalid", "strap fault: GPIO0 and GPIO2 low", Error, "GPIO2 must be high"},
		{1, "download", "download mode: GPIO0 held low", Warning, "release GPIO0"},
		{2, "invalid", "strap fault: GPIO2 low", Error, "GPIO2 must be high"},
		{3, "flash", "booting from flash", Info, ""},
		{4, "sdio", "SDIO boot: GPIO15 high", Error, "GPIO15 must be pulled low"},
		{5, "sdio", "SDIO boot", Error, "GPIO15"},
		{6, "sdio", "SDIO boot", Error, "GPIO15"},
		{7, "sdio", "SDIO boot", Error, "GPIO15"},
	}
	for _, c := range cases {
		line := fmt.Sprintf(" ets Jan  8 2013,rst cause:2, boot mode:(%d,6)", c.a)
		e := one(t, decodeText(line), KindROMBanner)
		check(t, e, c.sev, c.sum, c.fix, map[string]string{"mode": c.mode, "mode_a": fmt.Sprint(c.a)})
	}
}

func TestBannerNoiseAndLeniency(t *testing.T) {
	for _, line := range []string{
		"\x00\xfe\x8c\xc2r\x92\x0c ets Jan  8 2013,rst cause:2, boot mode:(3,6)",
		"rl\x00l ets Jan  8 2013,rst cause:2, boot mode:(3,6)\r",
		" ets Jan 8 2014,rst cause 2, boot mode:(3,6)", // the doc's misquote
		"ets Jan  8 2013,rst cause:2, boot mode:(3,6)",
	} {
		e := one(t, decodeText(line), KindROMBanner)
		check(t, e, Info, "external reset, booting from flash", "", map[string]string{"cause": "2", "mode": "flash"})
	}
}

// §1.4: a restart after serial flashing keeps the download-mode latch.
func TestDownloadLatchAfterAppRan(t *testing.T) {
	evs := decodeText(normalBoot + "iotbench-ref 0.3.1 starting\nrestarting\n ets Jan  8 2013,rst cause:2, boot mode:(1,6)\n")
	var banners []Event
	for _, e := range evs {
		if e.Kind == KindROMBanner {
			banners = append(banners, e)
		}
	}
	if len(banners) != 2 {
		t.Fatalf("%s", kinds(evs))
	}
	check(t, banners[1], Error, "latched from serial flashing", "press RESET or power-cycle", map[string]string{"latched": "1", "mode": "download"})

	// Without app output in between it is plain download mode.
	e := one(t, decodeText(" ets Jan  8 2013,rst cause:2, boot mode:(1,6)"), KindROMBanner)
	check(t, e, Warning, "download mode: GPIO0 held low", "release GPIO0", map[string]string{"mode": "download"})
	if e.Fields["latched"] != "" {
		t.Error("latched without app output")
	}
}

func TestOlderEbootSingleSegment(t *testing.T) {
	evs := decodeText(" ets Jan  8 2013,rst cause:2, boot mode:(3,6)\n\nload 0x4010f000, len 1384, room 16 \ntail 8\nchksum 0x2d\ncsum 0x2d\n")
	e := one(t, evs, KindROMLoader)
	check(t, e, Info, "1 segments, checksum 0x2d ok", "", map[string]string{"ok": "1", "segments": "1"})
}

func TestNONOSImageAndHO(t *testing.T) {
	evs := decodeText("load 0x40100000, len 24236, room 16 \ntail 12\nchksum 0xb7\nho 0 tail 12 room 4\nload 0x3ffe8000, len 3008, room 12 \ntail 4\nchksum 0x8c\nload 0x3ffe8bc0, len 1592, room 4 \ntail 4\nchksum 0x1d\ncsum 0x1d\n")
	e := one(t, evs, KindROMLoader)
	check(t, e, Info, "NONOS SDK image (3 segments", "", map[string]string{"image": "nonos", "segments": "3"})
}

// §1.5 diagnostic signatures.
func TestLoaderFailures(t *testing.T) {
	zeros := "load 0x00000000, len 0, room 16 \ntail 0\nchksum 0xef\nload 0x00000000, len 0, room 8 \ntail 0\nchksum 0xef\ncsum err\nets_main.c \n"
	evs := decodeText(" ets Jan  8 2013,rst cause:2, boot mode:(3,6)\n" + zeros)
	check(t, one(t, evs, KindROMLoader), Error, "zeros/garbage at flash offset 0", "--flash-mode dout", map[string]string{"ok": "0"})
	check(t, one(t, evs, KindROMError), Error, "no bootable image", "reflash", map[string]string{"error": "ets_main.c"})

	evs = decodeText("load 0x4010f000, len 3424, room 16 \ntail 0\nchksum 0x2e\ncsum err\nets_main.c \n")
	check(t, one(t, evs, KindROMLoader), Error, "checksum error", "reflash", nil)

	evs = decodeText("load 0x4010f000, len 3424, room 16 \ntail 0\nchksum 0x2e\ncsum 0x2f\n")
	check(t, one(t, evs, KindROMLoader), Error, "checksum differs", "reflash", nil)

	check(t, one(t, decodeText("flash read err, 0"), KindROMError), Error, "could not read the flash", "flash mode", map[string]string{"error": "flash read err, 0"})
	check(t, one(t, decodeText(" ets Jan  8 2013,rst cause:2, boot mode:(7,6)\nwaiting for host\n"), KindROMError), Error, "SDIO", "GPIO15", nil)
	check(t, one(t, decodeText(" ets Jan  8 2013,rst cause:9, boot mode:(3,6)\nunknown reset\nets_main.c 187\n"), KindROMBanner), Error, "unknown reset cause 9", "", nil)
	check(t, one(t, decodeText("user code done"), KindROMError), Warning, "user code done", "", nil)

	// A trace interrupted by something else.
	evs = decodeText("load 0x4010f000, len 3424, room 16 \ntail 0\nhello from the app\n")
	check(t, one(t, evs, KindROMLoader), Info, "cut short after 1 segments", "", nil)
}

func TestEboot(t *testing.T) {
	cases := []struct {
		line, sum, fix string
		sev            Severity
		fields         map[string]string
	}{
		{"~ld", "loading the application", "", Info, map[string]string{"action": "ld", "ota": "false"}},
		{"@cp:0", "copied the new OTA image", "", Notice, map[string]string{"action": "cp", "result": "0", "ota": "true"}},
		{"@cp:-1", "failed to copy the OTA image", "upload it again", Error, map[string]string{"result": "-1"}},
		{"cp:3", "failed to copy", "", Error, map[string]string{"result": "3", "ota": "false"}},
		{"ld", "loading the application", "", Info, map[string]string{"action": "ld"}},
		{"@ld", "command pending", "", Info, map[string]string{"ota": "true"}},
		{"e:2", "could not load the application (error 2)", "reflash the sketch", Error, map[string]string{"action": "e", "result": "2"}},
		{"va5432625", "build marker va5432625", "", Info, map[string]string{"version": "a5432625"}},
	}
	for _, c := range cases {
		check(t, one(t, decodeText(c.line), KindBootEboot), c.sev, c.sum, c.fix, c.fields)
	}
	// The first boot after an OTA: @cp:0 then ld.
	evs := decodeText("csum 0x2b\nv09f0c112\n@cp:0\nld\n")
	if len(evs) != 4 || evs[2].Severity != Notice || evs[3].Fields["action"] != "ld" {
		t.Fatalf("%s", kinds(evs))
	}
}

func TestSDKLines(t *testing.T) {
	evs := decodeText("rf cal sector: 1020\nfreq trace enable 0\nrf[112] : 0\n")
	if len(evs) != 3 {
		t.Fatalf("%s", kinds(evs))
	}
	for _, e := range evs {
		if e.Kind != KindBootSDK || e.Severity != Info {
			t.Fatalf("%+v", e)
		}
	}
}

// §2.5: a hardware watchdog prints no report; the next boot says wdt reset.
func TestHardwareWatchdog(t *testing.T) {
	evs := decodeText(normalBoot + "Publish message: hello world #3\nentering busy loop with interrupts off\n ets Jan  8 2013,rst cause:4, boot mode:(3,6)\n\nwdt reset\n")
	check(t, one(t, evs, KindCrashWDT), Error, "hardware watchdog reset", "yield()",
		map[string]string{"wdt": "hw", "last_lines": "Publish message: hello world #3\nentering busy loop with interrupts off"})
	banners := 0
	for _, e := range evs {
		if e.Kind == KindROMBanner && e.Fields["cause"] == "4" {
			banners++
			check(t, e, Warning, "hardware watchdog reset, booting from flash", "hardware watchdog fired", nil)
		}
	}
	if banners != 1 {
		t.Fatal(kinds(evs))
	}
}

func TestBootLoop(t *testing.T) {
	d := NewDecoder(Options{})
	var evs []Event
	for i := 0; i < 5; i++ {
		evs = append(evs, d.Line(" ets Jan  8 2013,rst cause:2, boot mode:(3,6)", t0.Add(time.Duration(i)*400*time.Millisecond))...)
	}
	e := one(t, evs, KindBootLoop)
	if e.Severity != Error || e.Fields["interval_ms"] != "400" || e.Fields["count"] != "3" || !strings.Contains(e.Fix, "power") {
		t.Fatalf("%+v", e)
	}
	wellFormed(t, e)
	// Slow resets are not a loop; zero times never are.
	d = NewDecoder(Options{})
	evs = nil
	for i := 0; i < 5; i++ {
		evs = append(evs, d.Line(" ets Jan  8 2013,rst cause:2, boot mode:(3,6)", t0.Add(time.Duration(i)*5*time.Second))...)
		evs = append(evs, d.Line(" ets Jan  8 2013,rst cause:2, boot mode:(3,6)", time.Time{})...)
	}
	for _, e := range evs {
		if e.Kind == KindBootLoop {
			t.Fatal("false boot loop")
		}
	}
}

// §1.8: ESP32 ROM output.
const esp32Boot = "ets Jun  8 2016 00:22:57\n\n" +
	"rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\n" +
	"configsip: 0, SPIWP:0xee\n" +
	"clk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00\n" +
	"mode:DIO, clock div:2\n" +
	"load:0x3fff0018,len:4\n" +
	"load:0x3fff001c,len:1044\n" +
	"load:0x40078000,len:8896\n" +
	"entry 0x40080400\n"

func TestESP32Boot(t *testing.T) {
	evs := decodeText(esp32Boot)
	if len(evs) != 3 {
		t.Fatalf("%s", kinds(evs))
	}
	check(t, evs[0], Info, "ESP32 ROM", "", map[string]string{"chip": "ESP32", "rom": "Jun  8 2016 00:22:57"})
	check(t, evs[1], Info, "power-on reset, booting from flash", "", map[string]string{"cause": "0x1", "cause_name": "POWERON_RESET", "boot": "0x13", "boot_name": "SPI_FAST_FLASH_BOOT", "mode": "flash", "chip": "ESP32",
		"straps": "GPIO0=H GPIO2=L GPIO4=L GPIO5=H GPIO12=L GPIO15=H"})
	check(t, evs[2], Info, "second-stage bootloader (3 segments, flash mode DIO, entry 0x40080400)", "", map[string]string{"segments": "3", "flash_mode": "DIO", "entry": "0x40080400"})

	e := one(t, decodeText("ets Jul 29 2019 12:21:46"), KindROMID)
	check(t, e, Info, "ESP32 ROM", "", map[string]string{"chip": "ESP32"})
	e = one(t, decodeText("ESP-ROM:esp32c3-api1-20210207"), KindROMID)
	check(t, e, Info, "esp32c3-api1-20210207", "", map[string]string{"chip": "ESP32-C3", "rom": "esp32c3-api1-20210207"})
}

func TestESP32ResetCauses(t *testing.T) {
	cases := []struct {
		n     int
		name  string
		words string
		sev   Severity
	}{
		{0x1, "POWERON_RESET", "power-on reset", Info},
		{0x3, "SW_RESET", "software reset of the digital core", Info},
		{0x4, "OWDT_RESET", "legacy watchdog", Warning},
		{0x5, "DEEPSLEEP_RESET", "deep-sleep wake", Info},
		{0x6, "SDIO_RESET", "SDIO reset", Info},
		{0x7, "TG0WDT_SYS_RESET", "timer-group-0 watchdog", Warning},
		{0x8, "TG1WDT_SYS_RESET", "timer-group-1 watchdog", Warning},
		{0x9, "RTCWDT_SYS_RESET", "RTC watchdog reset (digital core)", Warning},
		{0xa, "INTRUSION_RESET", "intrusion", Info},
		{0xb, "TGWDT_CPU_RESET", "timer-group watchdog reset of a CPU", Warning},
		{0xc, "SW_CPU_RESET", "esp_restart()", Info},
		{0xd, "RTCWDT_CPU_RESET", "RTC watchdog reset (CPU)", Warning},
		{0xe, "EXT_CPU_RESET", "APP CPU reset by the PRO CPU", Info},
		{0xf, "RTCWDT_BROWN_OUT_RESET", "brown-out", Error},
		{0x10, "RTCWDT_RTC_RESET", "RTC watchdog reset (digital and RTC)", Warning},
	}
	for _, c := range cases {
		line := fmt.Sprintf("rst:0x%x (%s),boot:0x13 (SPI_FAST_FLASH_BOOT)", c.n, c.name)
		e := one(t, feed(NewDecoder(Options{Chip: "ESP32"}), line), KindROMBanner)
		check(t, e, c.sev, c.words, "", map[string]string{"cause": fmt.Sprintf("0x%x", c.n), "cause_name": c.name})
		// The table by number, for a banner whose name is garbled.
		if got, _ := ResetCause32("ESP32", c.n, "GARBLED"); got != c.name {
			t.Errorf("0x%x by number: %s", c.n, got)
		}
	}
	// Newer chips: the printed name decides.
	for _, c := range []struct{ line, name, words string }{
		{"rst:0x15 (USB_UART_CHIP_RESET),boot:0xd (SPI_FAST_FLASH_BOOT)", "USB_UART_CHIP_RESET", "USB-UART"},
		{"rst:0x3 (RTC_SW_SYS_RESET),boot:0x8 (SPI_FAST_FLASH_BOOT)", "RTC_SW_SYS_RESET", "software system reset"},
		{"rst:0x12 (SUPER_WDT_RESET),boot:0x8 (SPI_FAST_FLASH_BOOT)", "SUPER_WDT_RESET", "super watchdog"},
		{"rst:0x16 (USB_JTAG_CHIP_RESET),boot:0xd (SPI_FAST_FLASH_BOOT)", "USB_JTAG_CHIP_RESET", "USB-Serial/JTAG"},
	} {
		e := one(t, feed(NewDecoder(Options{Chip: "esp32c3"}), c.line), KindROMBanner)
		check(t, e, e.Severity, c.words, "", map[string]string{"cause_name": c.name, "chip": "ESP32-C3"})
		if _, ok := e.Fields["straps"]; ok {
			t.Error("ESP32 strap bits decoded for an ESP32-C3")
		}
	}
}

func TestESP32DownloadAndErrors(t *testing.T) {
	evs := decodeText("rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\nwaiting for download\n")
	check(t, one(t, evs, KindROMBanner), Warning, "download mode: GPIO0 held low", "release GPIO0", map[string]string{"mode": "download", "straps": "GPIO0=L GPIO2=L GPIO4=L GPIO5=H GPIO12=L GPIO15=H"})
	check(t, one(t, evs, KindROMDownload), Warning, "waiting for a flasher", "", nil)

	evs = decodeText("rst:0x1 (POWERON_RESET),boot:0x23 (DOWNLOAD(USB/UART0))")
	check(t, one(t, evs, KindROMBanner), Warning, "download mode", "", nil)

	for _, mode := range []string{"SPI_FLASH_BOOT", "HSPI_FLASH_BOOT", "SDIO_REI_FEO_V1_BOOT", "ATE_BOOT"} {
		e := one(t, decodeText("rst:0x1 (POWERON_RESET),boot:0x0f ("+mode+")"), KindROMBanner)
		check(t, e, Error, "strap fault: "+mode, "GPIO12", map[string]string{"mode": "invalid"})
	}

	// No bootloader: the ROM repeats "invalid header" — reported once per boot.
	evs = decodeText("rst:0x10 (RTCWDT_RTC_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\ninvalid header: 0xffffffff\ninvalid header: 0xffffffff\ninvalid header: 0xffffffff\n")
	check(t, one(t, evs, KindROMError), Error, "no valid second-stage bootloader", "flash a bootloader, partition table and application, e.g. iotbench provision --app merged.bin", map[string]string{"error": "invalid header: 0xffffffff"})
	check(t, one(t, decodeText("flash read err, 1000"), KindROMError), Error, "could not read the flash", "", nil)
	check(t, one(t, decodeText("ets_main.c 371 "), KindROMError), Error, "no bootable image", "", nil)
	check(t, one(t, decodeText("csum err:0x9a!=0x89"), KindROMError), Error, "corrupt bootloader segment", "reflash the bootloader", nil)
}

// An ESP32 reset prints two ROM lines; they are one reset for loop detection.
func TestESP32ResetCountsOnce(t *testing.T) {
	d := NewDecoder(Options{})
	var evs []Event
	for i := 0; i < 2; i++ {
		at := t0.Add(time.Duration(i) * 1500 * time.Millisecond)
		evs = append(evs, d.Line("ets Jun  8 2016 00:22:57", at)...)
		evs = append(evs, d.Line("", at.Add(time.Millisecond))...)
		evs = append(evs, d.Line("rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)", at.Add(2*time.Millisecond))...)
	}
	for _, e := range evs {
		if e.Kind == KindBootLoop {
			t.Fatalf("two resets reported as a loop: %s", kinds(evs))
		}
	}
	evs = d.Line("ets Jun  8 2016 00:22:57", t0.Add(3*time.Second))
	one(t, evs, KindBootLoop)
}

// eboot prints "@cp:B0" when the copy left its own sector alone, the usual
// case after an OTA update (eboot.c copy_raw).
func TestEbootCopyUnchangedBootSector(t *testing.T) {
	d := NewDecoder(Options{})
	evs := d.Line("@cp:B0", time.Time{})
	if len(evs) != 1 || evs[0].Kind != KindBootEboot || evs[0].Fields["result"] != "0" || evs[0].Severity != Notice {
		t.Fatalf("@cp:B0 decoded as %+v", evs)
	}
}
