#include "ib_payload.h"

#include <cmath>
#include <set>

#include "ib_json.h"
#include "ib_json_view.h"

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

namespace {

// Group is one member of "readings": a sensor and its formatted values
// (one with an empty quantity for a single-valued sensor).
struct Group {
  const std::string* sensor;
  bool multi;
  std::vector<std::pair<const std::string*, std::string>> values;
};

// groups checks the payload against the schema (the refusals of
// Payload.Marshal) and formats every reading.
bool groups(const Payload& p, std::vector<Group>* out) {
  if (!isThingName(p.thing)) return false;
  std::set<std::string> seen;
  for (size_t i = 0; i < p.readings.size();) {
    const Reading& r = p.readings[i];
    if (!isSensorName(r.sensor) || seen.count(r.sensor)) return false;
    seen.insert(r.sensor);
    Group g{&r.sensor, !r.quantity.empty(), {}};
    std::string v;
    if (!g.multi) {
      if (!formatReading(r.value, &v)) return false;
      g.values.push_back({&r.quantity, v});
      i++;
    } else {
      for (size_t j = i; j < p.readings.size() && p.readings[j].sensor == r.sensor; j++) {
        const Reading& q = p.readings[j];
        if (q.quantity.empty() || !isSensorName(q.quantity) || !formatReading(q.value, &v)) return false;
        g.values.push_back({&q.quantity, v});
        i = j + 1;
      }
    }
    out->push_back(std::move(g));
  }
  // ParsePayload reads only sensor names here.
  for (const auto& e : p.errors)
    if (!isSensorName(e)) return false;
  return true;
}

}  // namespace

#if IB_ARDUINOJSON
// On the board: ArduinoJson keeps members in insertion order, which is the
// schema's order; readings go in as serialized() text so they keep
// formatReading's two decimals instead of ArduinoJson's float printing.
bool buildPayload(const Payload& p, std::string* out) {
  std::vector<Group> gs;
  if (!groups(p, &gs)) return false;
  ArduinoJson::JsonDocument doc;
  doc["thing"] = p.thing;
  doc["t"] = p.t;
  doc["seq"] = p.seq;
  ArduinoJson::JsonObject readings = doc["readings"].to<ArduinoJson::JsonObject>();
  for (const auto& g : gs) {
    if (!g.multi) {
      readings[*g.sensor] = ArduinoJson::serialized(g.values[0].second);
      continue;
    }
    ArduinoJson::JsonObject o = readings[*g.sensor].to<ArduinoJson::JsonObject>();
    for (const auto& q : g.values) o[*q.first] = ArduinoJson::serialized(q.second);
  }
  doc["rssi"] = p.rssi;
  doc["heap"] = p.heap;
  if (!p.errors.empty()) {
    ArduinoJson::JsonArray e = doc["errors"].to<ArduinoJson::JsonArray>();
    for (const auto& name : p.errors) e.add(name);
  }
  if (doc.overflowed()) return false;  // out of heap on the board
  out->clear();
  ArduinoJson::serializeJson(doc, *out);
  return true;
}
#else
// The host build without ArduinoJson writes the same bytes by hand.
bool buildPayload(const Payload& p, std::string* out) {
  std::vector<Group> gs;
  if (!groups(p, &gs)) return false;
  std::string b = "{\"thing\":";
  appendJsonString(b, p.thing);
  b += ",\"t\":" + std::to_string(p.t) + ",\"seq\":" + std::to_string(p.seq) + ",\"readings\":{";
  for (size_t i = 0; i < gs.size(); i++) {
    const Group& g = gs[i];
    if (i > 0) b += ',';
    appendJsonString(b, *g.sensor);
    b += ':';
    if (!g.multi) {
      b += g.values[0].second;
      continue;
    }
    b += '{';
    for (size_t j = 0; j < g.values.size(); j++) {
      if (j > 0) b += ',';
      appendJsonString(b, *g.values[j].first);
      b += ':' + g.values[j].second;
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
#endif

}  // namespace ib
