// config.json: the schema of firmware/config.go, checked in the same order
// with the same error codes (vectors: firmware/testdata/config).
#pragma once
#include <string>
#include <vector>

namespace ib {

const int kSchemaVersion = 1;
const size_t kMaxConfigSize = 4096;

struct Sensor {
  std::string type;  // analog_light, analog_temp, dht22, pms5003, fake, none
  std::string name;
  int pin = -1;
  int intervalS = 0;
};

struct Config {
  int schema = 0;
  std::string ssid, password;  // the password is a secret: never print it
  std::string host;
  int port = 8883;
  std::string thing;
  std::string telemetryTopic, commandTopic;
  int publishIntervalS = 60;
  std::vector<Sensor> sensors;
  bool ota = false;
  std::string otaHostname;
  int otaPort = 8266;
  std::string otaPasswordMD5;
  int rxBuffer = 16384;
};

struct ConfigError {
  std::string field;  // "" for the whole file
  std::string code;   // json, size, schema, required, type, unknown, range, ...
};

// jsonBackend names the JSON document parseConfig decodes from:
// "ArduinoJson 7.x.y" on the board, "strict reader" in a host build
// without ArduinoJson (ib_json_view.h).
const char* jsonBackend();

// parseConfig returns true and fills *cfg, or false and fills *err.
bool parseConfig(const std::string& data, Config* cfg, ConfigError* err);

// writeCanonical is Config.Marshal: keys in schema order, defaults filled,
// two-space indentation, final newline.
std::string writeCanonical(const Config& c);

// sensorTypes is the comma-separated list the cfg status line prints.
std::string sensorTypes(const Config& c);

std::string telemetryTopic(const std::string& thing);
std::string commandTopic(const std::string& thing);
std::string defaultOtaHostname(const std::string& thing);

}  // namespace ib
