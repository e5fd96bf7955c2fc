// Host tests of the sketch's logic against the shared vectors in
// firmware/testdata (argv[1]). Built and run by firmware/arduino_test.go
// with g++; prints one line per failure and "N passed, M failed".
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../src/ib_config.h"
#include "../src/ib_json.h"
#include "../src/ib_lines.h"
#include "../src/ib_machine.h"
#include "../src/ib_payload.h"
#include "../src/ib_reset.h"
#include "../src/ib_status.h"
#include "../src/ib_time.h"

static int passed = 0, failed = 0;
static std::string dir;

#define CHECK(cond, ...)                    \
  do {                                      \
    if (cond) {                             \
      passed++;                             \
    } else {                                \
      failed++;                             \
      printf("FAIL %s:%d: ", __FILE__, __LINE__); \
      printf(__VA_ARGS__);                  \
      printf("\n");                         \
    }                                       \
  } while (0)

static bool readFile(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::stringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return true;
}

static std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t i = s.find(sep, start);
    out.push_back(s.substr(start, i == std::string::npos ? std::string::npos : i - start));
    if (i == std::string::npos) return out;
    start = i + 1;
  }
}

// rows reads a TAB-separated vector file, checking the column count.
static std::vector<std::vector<std::string>> rows(const std::string& name, size_t cols) {
  std::string text;
  std::vector<std::vector<std::string>> out;
  if (!readFile(dir + "/" + name, &text)) {
    CHECK(false, "cannot read %s", name.c_str());
    return out;
  }
  for (const auto& line : split(text, '\n')) {
    if (line.empty()) continue;
    auto r = split(line, '\t');
    CHECK(r.size() == cols, "%s: %zu columns in %s", name.c_str(), r.size(), line.c_str());
    if (r.size() == cols) out.push_back(r);
  }
  CHECK(!out.empty(), "%s: no vectors", name.c_str());
  return out;
}

static void testConfigValid() {
  const char* names[] = {"minimal", "full", "unicode", "spacing"};
  for (const char* n : names) {
    std::string in, want;
    std::string base = dir + "/config/valid/" + n;
    CHECK(readFile(base + ".json", &in) && readFile(base + ".canon.json", &want), "read %s", n);
    ib::Config c;
    ib::ConfigError e;
    bool ok = ib::parseConfig(in, &c, &e);
    CHECK(ok, "%s: refused (%s %s)", n, e.field.c_str(), e.code.c_str());
    if (!ok) continue;
    std::string got = ib::writeCanonical(c);
    CHECK(got == want, "%s: canonical form\n%s\nwant\n%s", n, got.c_str(), want.c_str());
    ib::Config c2;
    CHECK(ib::parseConfig(got, &c2, &e) && ib::writeCanonical(c2) == got, "%s: canonical form is not a fixed point", n);
  }
}

static void testConfigInvalid() {
  for (const auto& r : rows("config/invalid.txt", 3)) {
    std::string in = r[2];
    if (!in.empty() && in[0] == '@') readFile(dir + "/config/invalid/" + in.substr(1), &in);
    ib::Config c;
    ib::ConfigError e;
    bool ok = ib::parseConfig(in, &c, &e);
    CHECK(!ok && e.field == r[0] && e.code == r[1], "%s: got %s %s/%s, want %s/%s", r[2].substr(0, 80).c_str(),
          ok ? "ok" : "error", e.field.c_str(), e.code.c_str(), r[0].c_str(), r[1].c_str());
  }
}

static void testNumbers() {
  for (const auto& r : rows("payload/numbers.txt", 2)) {
    double v = strtod(r[0].c_str(), nullptr);
    std::string got;
    if (!ib::formatReading(v, &got)) got = "!";
    CHECK(got == r[1], "formatReading(%s) = %s, want %s", r[0].c_str(), got.c_str(), r[1].c_str());
  }
}

static void testPayloads() {
  for (const auto& r : rows("payload/vectors.txt", 8)) {
    ib::Payload p;
    p.thing = r[0];
    p.t = strtoll(r[1].c_str(), nullptr, 10);
    p.seq = uint32_t(strtoull(r[2].c_str(), nullptr, 10));
    p.rssi = atoi(r[3].c_str());
    p.heap = atol(r[4].c_str());
    if (!r[5].empty())
      for (const auto& item : split(r[5], ';')) {
        auto kv = split(item, '=');
        auto name = split(kv[0], '.');
        p.readings.push_back({name[0], name.size() > 1 ? name[1] : "", strtod(kv[1].c_str(), nullptr)});
      }
    if (!r[6].empty()) p.errors = split(r[6], ',');
    std::string got;
    if (!ib::buildPayload(p, &got)) got = "!";
    CHECK(got == r[7], "payload %s:\n got %s\nwant %s", r[0].c_str(), got.c_str(), r[7].c_str());
  }
  std::string v;
  ib::formatReading(ib::analogTempC(67), &v);
  CHECK(v == "21.59", "analogTempC(67) = %s", v.c_str());
  CHECK(ib::fakeReading(21) == 20.25 && ib::fakeReading(19) == 24.75, "fake sawtooth");
}

// vectorJson is the canonical compact JSON of testdata/status/README.md.
static std::string vectorJson(const ib::Status& s) {
  auto q = [](const std::string& v) {
    std::string o = "\"";
    for (char c : v) {
      if (c == '"' || c == '\\') o += '\\';
      o += c;
    }
    return o + "\"";
  };
  std::string b = "{\"event\":" + q(s.event) + ",\"fields\":[";
  for (size_t i = 0; i < s.fields.size(); i++) {
    if (i > 0) b += ',';
    b += "[" + q(s.fields[i].first) + "," + q(s.fields[i].second) + "]";
  }
  return b + "]}";
}

static void testStatus() {
  for (const auto& r : rows("status/valid.txt", 3)) {
    ib::Status s;
    bool ok = ib::parseStatus(r[0], &s) == ib::ParseResult::Ok;
    CHECK(ok, "refused %s", r[0].c_str());
    if (!ok) continue;
    CHECK(s.str() == r[1], "%s: canonical %s, want %s", r[0].c_str(), s.str().c_str(), r[1].c_str());
    CHECK(vectorJson(s) == r[2], "%s: parse %s, want %s", r[0].c_str(), vectorJson(s).c_str(), r[2].c_str());
    // The firmware's formatter builds the canonical line from the fields.
    ib::Status built;
    built.event = s.event;
    for (const auto& f : s.fields) built.add(f.first, f.second);
    CHECK(built.str() == r[1], "format %s", r[1].c_str());
  }
  for (const auto& r : rows("status/invalid.txt", 2)) {
    ib::Status s;
    CHECK(ib::parseStatus(r[0], &s) == ib::ParseResult::Malformed, "accepted %s (%s)", r[0].c_str(), r[1].c_str());
  }
  for (const auto& r : rows("status/notib.txt", 1)) {
    ib::Status s;
    CHECK(ib::parseStatus(r[0], &s) == ib::ParseResult::NotStatus, "claimed %s", r[0].c_str());
  }
}

static void testLines() {
  auto rs = rows("lines.txt", 2);
  CHECK(rs.size() == sizeof(ib::kLines) / sizeof(ib::kLines[0]), "%zu templates in lines.txt, %zu in the sketch", rs.size(),
        sizeof(ib::kLines) / sizeof(ib::kLines[0]));
  for (const auto& r : rs) {
    const char* f = ib::line(r[0].c_str());
    CHECK(f && r[1] == f, "line %s: sketch has %s, vector %s", r[0].c_str(), f ? f : "(none)", r[1].c_str());
  }
}

static void testTimeAndBackoff() {
  for (const auto& r : rows("time.txt", 2)) {
    std::string got = ib::asctimeUTC(strtoll(r[0].c_str(), nullptr, 10));
    CHECK(got == r[1], "asctime(%s) = %s, want %s", r[0].c_str(), got.c_str(), r[1].c_str());
  }
  for (const auto& r : rows("backoff.txt", 2)) {
    CHECK(ib::backoffMs(atoi(r[0].c_str())) == strtoul(r[1].c_str(), nullptr, 10), "backoff(%s)", r[0].c_str());
  }
}

static void testReset32() {
  for (const auto& r : rows("reset32.txt", 3)) {
    int n = atoi(r[0].c_str());
    CHECK(r[1] == ib::esp32ResetName(n) && r[2] == ib::esp32ResetText(n), "reset reason %d: %s / %s, want %s / %s", n,
          ib::esp32ResetName(n), ib::esp32ResetText(n), r[1].c_str(), r[2].c_str());
  }
}

static void testMachine() {
  ib::Machine m(10000, 30000);
  CHECK(m.step(0, false, false, false) == ib::Action::None && m.state() == ib::State::WaitWiFi, "starts waiting for Wi-Fi");
  CHECK(m.step(100, true, false, false) == ib::Action::None && m.state() == ib::State::WaitNTP, "then NTP");
  CHECK(m.step(30100, true, false, false) == ib::Action::ReportNTP, "reports a 30 s NTP wait");
  CHECK(m.step(30200, true, true, false) == ib::Action::Connect, "connects once the time is valid");
  m.connected(30300, false);
  CHECK(m.retryInMs() == 2000 && m.step(31000, true, true, false) == ib::Action::None, "backs off 2 s");
  CHECK(m.step(32300, true, true, false) == ib::Action::Connect, "retries after the backoff");
  m.connected(32400, false);
  CHECK(m.retryInMs() == 4000 && m.step(36300, true, true, false) == ib::Action::None, "then 4 s");
  CHECK(m.step(36400, true, true, false) == ib::Action::Connect, "retries after 4 s");
  m.connected(36500, true);
  CHECK(m.failures() == 0 && m.step(36500, true, true, true) == ib::Action::Publish, "publishes at once when online");
  CHECK(m.step(40000, true, true, true) == ib::Action::None, "then waits the interval");
  CHECK(m.step(46500, true, true, true) == ib::Action::Publish, "publishes every interval");
  CHECK(m.step(47000, true, true, false) == ib::Action::Connect, "reconnects at once when the connection is lost");
  CHECK(m.step(47100, false, true, false) == ib::Action::None && m.state() == ib::State::WaitWiFi, "back to Wi-Fi when it drops");
  // millis() wraps after 49.7 days.
  ib::Machine w(10000);
  w.step(0xFFFFFF00u, true, true, false);
  w.connected(0xFFFFFF00u, true);
  CHECK(w.step(0xFFFFFF00u, true, true, true) == ib::Action::Publish && w.step(100, true, true, true) == ib::Action::None &&
            w.step(0x2610, true, true, true) == ib::Action::Publish,
        "survives the millis() wrap");
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s firmware/testdata\n", argv[0]);
    return 2;
  }
  dir = argv[1];
  printf("config decoded from: %s\n", ib::jsonBackend());
  testConfigValid();
  testConfigInvalid();
  testNumbers();
  testPayloads();
  testStatus();
  testLines();
  testTimeAndBackoff();
  testReset32();
  testMachine();
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
