#include "ib_payload.h"

#include <cmath>
#include <set>

#include "ib_json.h"

namespace ib {

namespace {

bool isThingName(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' || c == '_' || c == '-'))
      return false;
  return true;
}

bool isSensorName(const std::string& s) {
  if (s.empty() || s[0] < 'a' || s[0] > 'z') return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

}  // namespace

bool formatReading(double v, std::string* out) {
  if (std::isnan(v) || std::isinf(v) || std::fabs(v) >= 1e12) return false;
  long long cents = std::llround(v * 100);
  bool neg = cents < 0;
  if (neg) cents = -cents;
  std::string s = std::to_string(cents / 100);
  long long f = cents % 100;
  if (f != 0) {
    s += '.';
    s += char('0' + f / 10);
    if (f % 10 != 0) s += char('0' + f % 10);
  }
  *out = neg ? "-" + s : s;
  return true;
}

double analogTempC(int raw) { return double(raw) * 3300 / 1024 / 10; }

double fakeReading(uint32_t seq) { return 20 + double(seq % 20) * 0.25; }

std::vector<std::string> quantities(const std::string& type) {
  if (type == "dht22") return {"temperature", "humidity"};
  if (type == "pms5003") return {"pm1_0", "pm2_5", "pm10"};
  return {};
}

bool buildPayload(const Payload& p, std::string* out) {
  if (!isThingName(p.thing)) return false;
  std::string b = "{\"thing\":";
  appendJsonString(b, p.thing);
  b += ",\"t\":" + std::to_string(p.t) + ",\"seq\":" + std::to_string(p.seq) + ",\"readings\":{";
  std::set<std::string> seen;
  for (size_t i = 0; i < p.readings.size();) {
    const Reading& r = p.readings[i];
    if (!isSensorName(r.sensor) || seen.count(r.sensor)) return false;
    seen.insert(r.sensor);
    if (i > 0) b += ',';
    appendJsonString(b, r.sensor);
    b += ':';
    std::string v;
    if (r.quantity.empty()) {
      if (!formatReading(r.value, &v)) return false;
      b += v;
      i++;
      continue;
    }
    b += '{';
    size_t first = i;
    for (size_t j = i; j < p.readings.size() && p.readings[j].sensor == r.sensor; j++) {
      const Reading& q = p.readings[j];
      if (q.quantity.empty() || !isSensorName(q.quantity) || !formatReading(q.value, &v)) return false;
      if (j > first) b += ',';
      appendJsonString(b, q.quantity);
      b += ':' + v;
      i = j + 1;
    }
    b += '}';
  }
  b += "},\"rssi\":" + std::to_string(p.rssi) + ",\"heap\":" + std::to_string(p.heap);
  if (!p.errors.empty()) {
    b += ",\"errors\":[";
    for (size_t i = 0; i < p.errors.size(); i++) {
      if (i > 0) b += ',';
      appendJsonString(b, p.errors[i]);
    }
    b += ']';
  }
  b += '}';
  *out = b;
  return true;
}

}  // namespace ib
