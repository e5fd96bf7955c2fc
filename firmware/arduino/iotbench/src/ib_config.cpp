#include "ib_config.h"

#include <cerrno>
#include <cstdlib>

#include "ib_json.h"
#include "ib_json_view.h"

namespace ib {

std::string telemetryTopic(const std::string& thing) { return "iotbench/" + thing + "/telemetry"; }
std::string commandTopic(const std::string& thing) { return "iotbench/" + thing + "/cmd"; }

namespace {

const char* kTypes[] = {"analog_light", "analog_temp", "dht22", "pms5003", "fake", "none"};

bool isAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool isLowerDigit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool isHexDigit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool isHex(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!isHexDigit(c)) return false;
  return true;
}

bool isThingName(const std::string& s) {
  for (char c : s)
    if (!isAlnum(c) && c != ':' && c != '_' && c != '-') return false;
  return true;
}

bool isSensorName(const std::string& s) {
  if (s.empty() || s[0] < 'a' || s[0] > 'z') return false;
  for (char c : s)
    if (!isLowerDigit(c) && c != '_') return false;
  return true;
}

bool isMdnsName(const std::string& s) {
  if (s.empty() || s.front() == '-' || s.back() == '-') return false;
  for (char c : s)
    if (!isLowerDigit(c) && c != '-') return false;
  return true;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t i = s.find(sep, start);
    out.push_back(s.substr(start, i == std::string::npos ? std::string::npos : i - start));
    if (i == std::string::npos) return out;
    start = i + 1;
  }
}

bool allDigits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// looksLikeIP: an IPv6 literal (it has a ':' and only hex digits, ':' and
// '.'), an IPv4 dotted quad, or dotted labels that are all digits.
bool looksLikeIP(const std::string& h) {
  std::string s = h;
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  if (s.find(':') != std::string::npos) {
    for (char c : s)
      if (!isHexDigit(c) && c != ':' && c != '.') return false;
    return true;
  }
  for (const auto& l : split(s, '.'))
    if (!allDigits(l)) return false;
  return true;
}

bool isHostName(const std::string& s) {
  for (const auto& l : split(s, '.')) {
    if (l.empty() || l.size() > 63 || l.front() == '-' || l.back() == '-') return false;
    for (char c : l)
      if (!isAlnum(c) && c != '-') return false;
  }
  return true;
}

const char* topicProblem(const std::string& s) {
  if (s.find_first_of("+#") != std::string::npos) return "wildcard";
  if (!s.empty() && s[0] == '$') return "reserved";
  int slashes = 0;
  for (char c : s) slashes += c == '/';
  if (slashes > 7) return "slashes";
  return nullptr;
}

std::string join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

// Decoder checks a document against the schema of firmware/config.go, in
// its order and with its error codes, over either JSON view
// (ib_json_view.h).
template <class View>
struct Decoder {
  ConfigError* err;
  bool failed = false;

  void fail(const std::string& field, const char* code) {
    if (failed) return;
    failed = true;
    err->field = field;
    err->code = code;
  }

  bool object(const View& v, const std::string& path, std::initializer_list<const char*> allowed) {
    if (failed) return false;
    if (!v.isObject()) {
      fail(path, "type");
      return false;
    }
    std::string unknown;
    auto known = [&](const std::string& k) {
      for (const char* a : allowed)
        if (k == a) return true;
      return false;
    };
    if (v.firstKeyNotIn(known, &unknown)) {
      fail(join(path, unknown), "unknown");
      return false;
    }
    return true;
  }

  bool str(const View& obj, const std::string& path, const char* key, bool required, size_t minLen, size_t maxLen,
           std::string* out) {
    if (failed) return false;
    std::string f = join(path, key);
    View v = obj.member(key);
    if (!v.present()) {
      if (required) fail(f, "required");
      return false;
    }
    if (!v.isString()) {
      fail(f, "type");
      return false;
    }
    std::string s = v.str();
    for (unsigned char c : s)
      if (c < 0x20 || c == 0x7f) {
        fail(f, "chars");
        return false;
      }
    if (s.size() < minLen || s.size() > maxLen) {
      fail(f, "length");
      return false;
    }
    *out = s;
    return true;
  }

  int integer(const View& obj, const std::string& path, const char* key, bool required, int def, long long lo, long long hi) {
    if (failed) return def;
    std::string f = join(path, key);
    View v = obj.member(key);
    if (!v.present()) {
      if (required) fail(f, "required");
      return def;
    }
    if (!v.isNumber()) {
      fail(f, "type");
      return def;
    }
    long long n = 0;
    if (!v.integer(&n) || n < lo || n > hi) {
      fail(f, "range");
      return def;
    }
    return int(n);
  }

  View member(const View& root, const char* key, bool required) {
    if (failed) return View{};
    View v = root.member(key);
    if (!v.present() && required) fail(key, "required");
    return v;
  }

  void wifi(const View& root, Config* c) {
    View v = member(root, "wifi", true);
    if (!v.present() || !object(v, "wifi", {"ssid", "password"})) return;
    str(v, "wifi", "ssid", true, 1, 32, &c->ssid);
    str(v, "wifi", "password", false, 0, 64, &c->password);
    if (failed) return;
    size_t n = c->password.size();
    if (n > 0 && n < 8) fail("wifi.password", "length");
    else if (n == 64 && !isHex(c->password)) fail("wifi.password", "format");
  }

  void endpoint(const View& root, Config* c) {
    View v = member(root, "endpoint", true);
    if (!v.present() || !object(v, "endpoint", {"host", "port"})) return;
    if (str(v, "endpoint", "host", true, 1, 253, &c->host)) {
      if (looksLikeIP(c->host)) fail("endpoint.host", "ip");
      else if (!isHostName(c->host)) fail("endpoint.host", "format");
    }
    c->port = integer(v, "endpoint", "port", false, 8883, 1, 65535);
  }

  void thing(const View& root, Config* c) {
    if (str(root, "", "thing", true, 1, 128, &c->thing) && !isThingName(c->thing)) fail("thing", "chars");
  }

  void topics(const View& root, Config* c) {
    c->telemetryTopic = telemetryTopic(c->thing);
    c->commandTopic = commandTopic(c->thing);
    View v = member(root, "topics", false);
    if (!v.present() || !object(v, "topics", {"telemetry", "command"})) return;
    std::string s;
    if (str(v, "topics", "telemetry", false, 1, 256, &s)) {
      if (topicProblem(s)) fail("topics.telemetry", "format");
      c->telemetryTopic = s;
    }
    if (str(v, "topics", "command", false, 1, 256, &s)) {
      if (topicProblem(s)) fail("topics.command", "format");
      c->commandTopic = s;
    }
  }

  void sensors(const View& root, Config* c) {
    View v = member(root, "sensors", false);
    if (!v.present() || failed) return;
    if (!v.isArray()) {
      fail("sensors", "type");
      return;
    }
    if (v.size() > 8) {
      fail("sensors", "length");
      return;
    }
    for (size_t i = 0; i < v.size(); i++) {
      std::string path = "sensors[" + std::to_string(i) + "]";
      Sensor s = sensor(v.at(i), path, c->publishIntervalS);
      if (failed) return;
      for (const auto& o : c->sensors)
        if (!s.name.empty() && o.name == s.name) {
          fail(path + ".name", "duplicate");
          return;
        }
      c->sensors.push_back(s);
    }
  }

  Sensor sensor(const View& v, const std::string& path, int interval) {
    Sensor s;
    s.intervalS = interval;
    if (!object(v, path, {"type", "name", "pin", "interval_s"})) return s;
    if (!str(v, path, "type", true, 1, 16, &s.type)) return s;
    bool known = false;
    for (const char* t : kTypes) known = known || s.type == t;
    if (!known) {
      fail(path + ".type", "format");
      return s;
    }
    if (s.type == "none") {
      for (const char* k : {"name", "pin", "interval_s"})
        if (v.member(k).present()) {
          fail(join(path, k), "unused");
          return s;
        }
      s.intervalS = 0;
      return s;
    }
    if (str(v, path, "name", true, 1, 24, &s.name) && !isSensorName(s.name)) fail(path + ".name", "chars");
    if (s.type == "fake") {
      if (v.member("pin").present()) fail(path + ".pin", "unused");
    } else if (s.type == "analog_light" || s.type == "analog_temp") {
      s.pin = integer(v, path, "pin", false, 17, 0, 39);
    } else {
      s.pin = integer(v, path, "pin", true, -1, 0, 39);
    }
    s.intervalS = integer(v, path, "interval_s", false, interval, 1, 86400);
    return s;
  }

  void ota(const View& root, Config* c) {
    View v = member(root, "ota", false);
    if (!v.present() || !object(v, "ota", {"hostname", "port", "password_md5"})) return;
    c->ota = true;
    c->otaHostname = defaultOtaHostname(c->thing);
    std::string h;
    if (str(v, "ota", "hostname", false, 1, 63, &h)) {
      if (!isMdnsName(h)) fail("ota.hostname", "chars");
      c->otaHostname = h;
    }
    c->otaPort = integer(v, "ota", "port", false, 8266, 1, 65535);
    std::string p;
    if (str(v, "ota", "password_md5", true, 0, 64, &p)) {
      bool hex32 = p.size() == 32 && isHex(p);
      bool upper = false;
      for (char ch : p) upper = upper || (ch >= 'A' && ch <= 'F');
      if (hex32 && upper) fail("ota.password_md5", "case");
      else if (!hex32) fail("ota.password_md5", "format");
      c->otaPasswordMD5 = p;
    }
  }

  void tls(const View& root, Config* c) {
    View v = member(root, "tls", false);
    if (!v.present() || !object(v, "tls", {"rx_buffer"})) return;
    c->rxBuffer = integer(v, "tls", "rx_buffer", false, 16384, 512, 16384);
    if (!failed && c->rxBuffer != 512 && c->rxBuffer != 1024 && c->rxBuffer != 2048 && c->rxBuffer != 4096 && c->rxBuffer != 16384)
      fail("tls.rx_buffer", "range");
  }
};

struct Writer {
  std::string b;
  int depth = 0;
  bool empty = false;

  void newline() {
    b += '\n';
    for (int i = 0; i < depth; i++) b += "  ";
  }
  Writer& item() {
    if (!empty) b += ',';
    empty = false;
    newline();
    return *this;
  }
  Writer& key(const char* k) {
    item();
    appendJsonString(b, k);
    b += ": ";
    return *this;
  }
  Writer& open(char c) {
    b += c;
    depth++;
    empty = true;
    return *this;
  }
  void close(char c) {
    depth--;
    if (!empty) newline();
    empty = false;
    b += c;
  }
  void str(const std::string& s) { appendJsonString(b, s); }
  void num(long long n) { b += std::to_string(n); }
};

}  // namespace

std::string defaultOtaHostname(const std::string& thing) {
  std::string h;
  for (char c : thing) {
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    h += isLowerDigit(c) ? c : '-';
  }
  size_t a = h.find_first_not_of('-');
  if (a == std::string::npos) return "iotbench";
  h = h.substr(a, h.find_last_not_of('-') - a + 1);
  if (h.size() > 63) {
    h = h.substr(0, 63);
    h = h.substr(0, h.find_last_not_of('-') + 1);
  }
  return h.empty() ? "iotbench" : h;
}

namespace {

template <class View>
bool decodeConfig(const View& root, Config* cfg, ConfigError* err) {
  Decoder<View> d{err};
  if (!root.isObject()) {
    d.fail("", "type");
    return false;
  }
  Config& c = *cfg;
  c.schema = d.integer(root, "", "schema", true, 0, 0, 1 << 30);
  if (!d.failed && c.schema != kSchemaVersion) d.fail("schema", "schema");
  if (!d.object(root, "", {"schema", "wifi", "endpoint", "thing", "topics", "publish_interval_s", "sensors", "ota", "tls"}))
    return false;
  d.wifi(root, &c);
  d.endpoint(root, &c);
  d.thing(root, &c);
  d.topics(root, &c);
  c.publishIntervalS = d.integer(root, "", "publish_interval_s", false, 60, 1, 86400);
  d.sensors(root, &c);
  d.ota(root, &c);
  d.tls(root, &c);
  return !d.failed;
}

}  // namespace

const char* jsonBackend() {
#if IB_ARDUINOJSON
  return "ArduinoJson " ARDUINOJSON_VERSION;
#else
  return "strict reader";
#endif
}

bool parseConfig(const std::string& data, Config* cfg, ConfigError* err) {
  *cfg = Config();
  if (data.size() > kMaxConfigSize) {
    *err = {"", "size"};
    return false;
  }
  // The strict reader decides what is JSON on both builds (ib_json_view.h).
  std::string jerr;
  auto root = parseJson(data, &jerr);
  if (!root) {
    *err = {"", "json"};
    return false;
  }
#if IB_ARDUINOJSON
  ArduinoJson::JsonDocument doc;
  ArduinoJson::DeserializationError de = ArduinoJson::deserializeJson(doc, data);
  if (de) {
    // Strict JSON that ArduinoJson cannot hold: out of memory on the board.
    *err = {"", de == ArduinoJson::DeserializationError::NoMemory ? "memory" : "json"};
    return false;
  }
  return decodeConfig(AjView{doc.as<ArduinoJson::JsonVariantConst>(), true}, cfg, err);
#else
  return decodeConfig(IbView{root.get()}, cfg, err);
#endif
}

std::string writeCanonical(const Config& c) {
  Writer w;
  w.open('{');
  w.key("schema").num(c.schema);
  w.key("wifi").open('{');
  w.key("ssid").str(c.ssid);
  w.key("password").str(c.password);
  w.close('}');
  w.key("endpoint").open('{');
  w.key("host").str(c.host);
  w.key("port").num(c.port);
  w.close('}');
  w.key("thing").str(c.thing);
  w.key("topics").open('{');
  w.key("telemetry").str(c.telemetryTopic);
  w.key("command").str(c.commandTopic);
  w.close('}');
  w.key("publish_interval_s").num(c.publishIntervalS);
  w.key("sensors").open('[');
  for (const auto& s : c.sensors) {
    w.item().open('{');
    w.key("type").str(s.type);
    if (s.type != "none") {
      w.key("name").str(s.name);
      if (s.pin >= 0) w.key("pin").num(s.pin);
      w.key("interval_s").num(s.intervalS);
    }
    w.close('}');
  }
  w.close(']');
  if (c.ota) {
    w.key("ota").open('{');
    w.key("hostname").str(c.otaHostname);
    w.key("port").num(c.otaPort);
    w.key("password_md5").str(c.otaPasswordMD5);
    w.close('}');
  }
  w.key("tls").open('{');
  w.key("rx_buffer").num(c.rxBuffer);
  w.close('}');
  w.close('}');
  w.b += '\n';
  return w.b;
}

std::string sensorTypes(const Config& c) {
  std::string out;
  for (const auto& s : c.sensors) {
    if (!out.empty()) out += ',';
    out += s.type;
  }
  return out;
}

}  // namespace ib
