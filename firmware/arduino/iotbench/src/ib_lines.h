// The human lines the firmware prints, the templates of firmware/lines.go
// (vectors: firmware/testdata/lines.txt). Lines whose id ends in "_open"
// are continued on the same line.
#pragma once

namespace ib {

struct LineTemplate {
  const char* id;
  const char* format;
};

const LineTemplate kLines[] = {
    {"banner", "%s %s (core %s) chip %s flash %d"},
    {"reset", "Reset reason: %s"},
    {"fs_ok", "%s mounted: %s"},
    {"fs_fail", "%s mount failed (0x%x, %d bytes): upload the filesystem image built for this flash layout"},
    {"file_ok", "%s: %d bytes"},
    {"file_missing", "%s: missing"},
    {"file_empty", "%s: empty"},
    {"file_bad", "%s: not loaded (%s)"},
    {"cfg_ok", "Config: thing %s, endpoint %s:%d, %d sensor(s), publish every %d s"},
    {"cfg_fail", "Config error: %s: %s"},
    {"wifi_open", "Connecting to %s"},
    {"wifi_ok", "WiFi connected, IP address: %s"},
    {"wifi_fail", "WiFi not connected: reason %d (%s)"},
    {"ntp_open", "Waiting for NTP time sync: "},
    {"ntp_ok", "Current time: %s"},
    {"ntp_fail", "NTP: no time after %d s: check that UDP port 123 is open"},
    {"mqtt_open", "Attempting MQTT connection to %s:%d as %s..."},
    {"mqtt_ok", "connected"},
    {"mqtt_fail", "failed, rc=%d try again in %d seconds"},
    {"ssl_error", "SSL error: %s"},
    {"mqtt_lost", "MQTT connection lost, rc=%d"},
    {"publish", "Publish message: %s"},
    {"pub_too_big", "Publish skipped: %d bytes do not fit the %d-byte MQTT buffer"},
    {"ota_start", "OTA start: %s"},
    {"ota_end", "OTA end"},
    {"ota_error", "OTA error %d"},
    {"stop", "Stopped: %s"},
};

// line returns the template of id (nullptr for an unknown id).
inline const char* line(const char* id) {
  for (const auto& l : kLines) {
    const char *a = l.id, *b = id;
    while (*a && *a == *b) a++, b++;
    if (*a == *b) return l.format;
  }
  return nullptr;
}

// Application identity (firmware/lines.go).
const char* const kAppName = "iotbench-ref";
const char* const kAppVersion = "0.1.0";

}  // namespace ib
