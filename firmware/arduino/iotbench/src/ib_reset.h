// ESP32-family reset reasons (esp_reset_reason_t) and the texts the sketch
// prints for them: firmware/reset.go, vectors firmware/testdata/reset32.txt.
#pragma once

namespace ib {

// esp32ResetName is the enum name ("ESP_RST_POWERON"), esp32ResetText the
// printed text ("Power on"); numbers outside the enum are ESP_RST_UNKNOWN.
const char* esp32ResetName(int reason);
const char* esp32ResetText(int reason);

}  // namespace ib
