#include "ib_config.h"

#include <cerrno>
#include <cstdlib>

#include "ib_json.h"

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

struct Decoder {
  ConfigError* err;
  bool failed = false;

  void fail(const std::string& field, const char* code) {
    if (failed) return;
    failed = true;
    err->field = field;
    err->code = code;
  }

  bool object(const JsonValue* v, const std::string& path, std::initializer_list<const char*> allowed) {
    if (failed) return false;
    if (v->kind != JsonKind::Object) {
      fail(path, "type");
      return false;
    }
    for (const auto& m : v->members) {
      bool known = false;
      for (const char* a : allowed) known = known || m.first == a;
      if (!known) {
        fail(join(path, m.first), "unknown");
        return false;
      }
    }
    return true;
  }

  bool str(const JsonValue* obj, const std::string& path, const char* key, bool required, size_t minLen, size_t maxLen,
           std::string* out) {
    if (failed) return false;
    std::string f = join(path, key);
    const JsonValue* v = obj->get(key);
    if (!v) {
      if (required) fail(f, "required");
      return false;
    }
    if (v->kind != JsonKind::String) {
      fail(f, "type");
      return false;
    }
    for (unsigned char c : v->str)
      if (c < 0x20 || c == 0x7f) {
        fail(f, "chars");
        return false;
      }
    if (v->str.size() < minLen || v->str.size() > maxLen) {
      fail(f, "length");
      return false;
    }
    *out = v->str;
    return true;
  }

  int integer(const JsonValue* obj, const std::string& path, const char* key, bool required, int def, long long lo, long long hi) {
    if (failed) return def;
    std::string f = join(path, key);
    const JsonValue* v = obj->get(key);
    if (!v) {
      if (required) fail(f, "required");
      return def;
    }
    if (v->kind != JsonKind::Number) {
      fail(f, "type");
      return def;
    }
    errno = 0;
    char* end = nullptr;
    long long n = strtoll(v->num.c_str(), &end, 10);
    if (!v->isInteger() || errno == ERANGE || *end != 0 || n < lo || n > hi) {
      fail(f, "range");
      return def;
    }
    return int(n);
  }

  const JsonValue* member(const JsonValue* root, const char* key, bool required) {
    if (failed) return nullptr;
    const JsonValue* v = root->get(key);
    if (!v && required) fail(key, "required");
    return v;
  }

  void wifi(const JsonValue* root, Config* c) {
    const JsonValue* v = member(root, "wifi", true);
    if (!v || !object(v, "wifi", {"ssid", "password"})) return;
    str(v, "wifi", "ssid", true, 1, 32, &c->ssid);
    str(v, "wifi", "password", false, 0, 64, &c->password);
    if (failed) return;
    size_t n = c->password.size();
    if (n > 0 && n < 8) fail("wifi.password", "length");
    else if (n == 64 && !isHex(c->password)) fail("wifi.password", "format");
  }

  void endpoint(const JsonValue* root, Config* c) {
    const JsonValue* v = member(root, "endpoint", true);
    if (!v || !object(v, "endpoint", {"host", "port"})) return;
    if (str(v, "endpoint", "host", true, 1, 253, &c->host)) {
      if (looksLikeIP(c->host)) fail("endpoint.host", "ip");
      else if (!isHostName(c->host)) fail("endpoint.host", "format");
    }
    c->port = integer(v, "endpoint", "port", false, 8883, 1, 65535);
  }

  void thing(const JsonValue* root, Config* c) {
    if (str(root, "", "thing", true, 1, 128, &c->thing) && !isThingName(c->thing)) fail("thing", "chars");
  }

  void topics(const JsonValue* root, Config* c) {
    c->telemetryTopic = telemetryTopic(c->thing);
    c->commandTopic = commandTopic(c->thing);
    const JsonValue* v = member(root, "topics", false);
    if (!v || !object(v, "topics", {"telemetry", "command"})) return;
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

  void sensors(const JsonValue* root, Config* c) {
    const JsonValue* v = member(root, "sensors", false);
    if (!v || failed) return;
    if (v->kind != JsonKind::Array) {
      fail("sensors", "type");
      return;
    }
    if (v->arr.size() > 8) {
      fail("sensors", "length");
      return;
    }
    for (size_t i = 0; i < v->arr.size(); i++) {
      std::string path = "sensors[" + std::to_string(i) + "]";
      Sensor s = sensor(v->arr[i].get(), path, c->publishIntervalS);
      if (failed) return;
      for (const auto& o : c->sensors)
        if (!s.name.empty() && o.name == s.name) {
          fail(path + ".name", "duplicate");
          return;
        }
      c->sensors.push_back(s);
    }
  }

  Sensor sensor(const JsonValue* v, const std::string& path, int interval) {
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
        if (v->get(k)) {
          fail(join(path, k), "unused");
          return s;
        }
      s.intervalS = 0;
      return s;
    }
    if (str(v, path, "name", true, 1, 24, &s.name) && !isSensorName(s.name)) fail(path + ".name", "chars");
    if (s.type == "fake") {
      if (v->get("pin")) fail(path + ".pin", "unused");
    } else if (s.type == "analog_light" || s.type == "analog_temp") {
      s.pin = integer(v, path, "pin", false, 17, 0, 39);
    } else {
      s.pin = integer(v, path, "pin", true, -1, 0, 39);
    }
    s.intervalS = integer(v, path, "interval_s", false, interval, 1, 86400);
    return s;
  }

  void ota(const JsonValue* root, Config* c) {
    const JsonValue* v = member(root, "ota", false);
    if (!v || !object(v, "ota", {"hostname", "port", "password_md5"})) return;
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

  void tls(const JsonValue* root, Config* c) {
    const JsonValue* v = member(root, "tls", false);
    if (!v || !object(v, "tls", {"rx_buffer"})) return;
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

bool parseConfig(const std::string& data, Config* cfg, ConfigError* err) {
  *cfg = Config();
  if (data.size() > kMaxConfigSize) {
    *err = {"", "size"};
    return false;
  }
  std::string jerr;
  auto root = parseJson(data, &jerr);
  if (!root) {
    *err = {"", "json"};
    return false;
  }
  Decoder d{err};
  if (root->kind != JsonKind::Object) {
    d.fail("", "type");
    return false;
  }
  Config& c = *cfg;
  c.schema = d.integer(root.get(), "", "schema", true, 0, 0, 1 << 30);
  if (!d.failed && c.schema != kSchemaVersion) d.fail("schema", "schema");
  if (!d.object(root.get(), "", {"schema", "wifi", "endpoint", "thing", "topics", "publish_interval_s", "sensors", "ota", "tls"}))
    return false;
  d.wifi(root.get(), &c);
  d.endpoint(root.get(), &c);
  d.thing(root.get(), &c);
  d.topics(root.get(), &c);
  c.publishIntervalS = d.integer(root.get(), "", "publish_interval_s", false, 60, 1, 86400);
  d.sensors(root.get(), &c);
  d.ota(root.get(), &c);
  d.tls(root.get(), &c);
  return !d.failed;
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
