// The telemetry payload of firmware/payload.go (vectors:
// firmware/testdata/payload).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ib {

struct Reading {
  std::string sensor;
  std::string quantity;  // "" for a single-valued sensor
  double value;
};

struct Payload {
  std::string thing;
  long long t = 0;
  uint32_t seq = 0;
  std::vector<Reading> readings;
  int rssi = 0;
  long heap = 0;
  std::vector<std::string> errors;
};

const int kMqttBufferSize = 1024;

// formatReading writes v rounded half away from zero to two decimals
// without trailing zeros; false for NaN, infinities and |v| >= 1e12.
bool formatReading(double v, std::string* out);

// buildPayload writes the payload JSON; false when a name or reading
// cannot be written (the same refusals as Payload.Marshal).
bool buildPayload(const Payload& p, std::string* out);

// packetSize is the PubSubClient buffer a publish needs (device-side.md §3.6).
inline size_t packetSize(const std::string& topic, size_t payloadLen) { return 5 + 2 + topic.size() + payloadLen; }

double analogTempC(int raw);
double fakeReading(uint32_t seq);

// quantities of a multi-valued sensor type (empty for single-valued).
std::vector<std::string> quantities(const std::string& type);

}  // namespace ib
