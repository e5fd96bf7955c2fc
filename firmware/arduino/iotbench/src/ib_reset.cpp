#include "ib_reset.h"

namespace ib {

namespace {

// Indexed by esp_reset_reason_t (ESP-IDF esp_system.h).
const char* const kReset[][2] = {
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
};

int index(int reason) { return reason < 0 || reason >= int(sizeof kReset / sizeof kReset[0]) ? 0 : reason; }

}  // namespace

const char* esp32ResetName(int reason) { return kReset[index(reason)][0]; }
const char* esp32ResetText(int reason) { return kReset[index(reason)][1]; }

}  // namespace ib
