// iotbench reference firmware (ESP8266 Arduino core 3.1.x; ESP32 core 2.x/3.x
// where marked). The thin Arduino layer: everything with logic in it —
// config.json checking, the payload, status lines, backoff, the connection
// state machine — lives in src/ as plain C++ and is tested on the host
// against firmware/testdata (go test ./firmware/...).
//
// Build: see ../README.md. Facts: shared/docs/device-side.md §3–§6.
//
// Libraries: PubSubClient 2.8 (knolleary), "DHT sensor library" (Adafruit,
// with Adafruit Unified Sensor). BearSSL, LittleFS, ArduinoOTA and
// SoftwareSerial come with the ESP8266 core; on the ESP32 family TLS is
// arduino-esp32's WiFiClientSecure over mbedTLS (2.x or 3.x cores).

#if defined(ESP8266)
#include <ESP8266WiFi.h>
#include <ESP8266mDNS.h>
#include <coredecls.h>
#include <flash_hal.h>  // _FS_start, _FS_end
#elif defined(ESP32)
#include <WiFi.h>
#include <WiFiClientSecure.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>
#if MBEDTLS_VERSION_MAJOR >= 3
#include <esp_random.h>
#endif
#else
#error "iotbench firmware: build for an ESP8266 or ESP32 board"
#endif
#include <ArduinoOTA.h>
#include <DHT.h>
#include <PubSubClient.h>
#include <SoftwareSerial.h>
#include <time.h>

// Filesystem: LittleFS (default) or SPIFFS (-DIB_USE_SPIFFS); it must match
// the image iotbench builds (iotbench fs build --fs spiffs|littlefs).
#if defined(IB_USE_SPIFFS)
#include <FS.h>
#define IB_FS SPIFFS
static const char* kFSName = "SPIFFS";
#else
#include <LittleFS.h>
#define IB_FS LittleFS
static const char* kFSName = "LittleFS";
#endif

#include "src/ib_config.h"
#include "src/ib_lines.h"
#include "src/ib_machine.h"
#include "src/ib_payload.h"
#include "src/ib_reset.h"
#include "src/ib_status.h"
#include "src/ib_time.h"

static ib::Config cfg;
static ib::Machine* machine = nullptr;

#if defined(ESP8266)
// BearSSL keeps pointers to these: they must outlive the client
// (device-side.md §3.1), hence globals.
static BearSSL::X509List* clientCert = nullptr;
static BearSSL::PrivateKey* clientKey = nullptr;
static BearSSL::X509List* trustAnchors = nullptr;
static BearSSL::WiFiClientSecure net;
#else
// arduino-esp32's WiFiClientSecure (mbedTLS) keeps pointers to PEM text it
// parses at every connect: globals.
static std::string caPem, certPem, keyPem;
static WiFiClientSecure net;
#endif
static PubSubClient mqtt(net);
static uint32_t seq = 0;
static bool otaStarted = false;

// ---- output -------------------------------------------------------------

// say prints template id with printf arguments; "_open" lines stay open.
template <typename... Args>
static void say(const char* id, Args... args) {
  char buf[320];
  snprintf(buf, sizeof buf, ib::line(id), args...);
  Serial.print(buf);
  if (!strstr(id, "_open")) Serial.print("\r\n");
}

static void status(const ib::Status& s) {
  Serial.print(s.str().c_str());
  Serial.print("\r\n");
}

static void stop(const char* why) {
  say("stop", why);
  for (;;) delay(1000);  // keeps the watchdog fed; a reflash and reset fix it
}

// ---- boot and files -----------------------------------------------------

static void printBoot() {
  char chip[12];
#if defined(ESP8266)
  snprintf(chip, sizeof chip, "%08x", ESP.getChipId());
  String coreCopy = ESP.getCoreVersion();
  const char* arch = "esp8266";
  int reason = ESP.getResetInfoPtr()->reason;
  String reasonText = ESP.getResetReason();
  int flash = ESP.getFlashChipRealSize();
#else
  snprintf(chip, sizeof chip, "%08x", uint32_t(ESP.getEfuseMac() & 0xffffff));
  char coreVer[16];
  snprintf(coreVer, sizeof coreVer, "%d.%d.%d", ESP_ARDUINO_VERSION_MAJOR, ESP_ARDUINO_VERSION_MINOR, ESP_ARDUINO_VERSION_PATCH);
  String coreCopy = coreVer;
  // The ESP-IDF target names the reset-reason numbering for the decoder:
  // esp_reset_reason() is not the ESP8266 SDK's rst_info.reason.
  const char* arch = CONFIG_IDF_TARGET;
  int reason = esp_reset_reason();
  String reasonText = ib::esp32ResetText(reason);
  int flash = ESP.getFlashChipSize();
#endif
  Serial.print("\r\n");
  say("banner", ib::kAppName, ib::kAppVersion, coreCopy.c_str(), chip, flash);
  status(ib::Status{"boot"}
             .add("app", ib::kAppName)
             .add("ver", ib::kAppVersion)
             .add("core", coreCopy.c_str())
             .add("arch", arch)
             .add("chip", chip)
             .add("flash", flash)
             .add("reason", reason)
             .add("reason_s", reasonText.c_str()));
  say("reset", reasonText.c_str());
}

// readFile reads one file whole, telling missing and empty apart (§3.2).
static bool readFile(const char* name, std::string* out) {
  String path = String("/") + name;
  if (!IB_FS.exists(path)) {
    say("file_missing", name);
    status(ib::Status{"file"}.add("name", name).add("ok", "0").add("err", "missing"));
    return false;
  }
  File f = IB_FS.open(path, "r");
  size_t n = f.size();
  if (n == 0) {
    f.close();
    say("file_empty", name);
    status(ib::Status{"file"}.add("name", name).add("ok", "0").add("err", "empty"));
    return false;
  }
  out->resize(n);
  f.read(reinterpret_cast<uint8_t*>(&(*out)[0]), n);
  f.close();
  say("file_ok", name, int(n));
  status(ib::Status{"file"}.add("name", name).add("ok", "1").add("bytes", (long long)n));
  return true;
}

static void fileBad(const char* name, const char* why) {
  say("file_bad", name, why);
  status(ib::Status{"file"}.add("name", name).add("ok", "0").add("err", "parse"));
}

#if defined(ESP32)
// pemOf wraps DER in PEM with mbedTLS's own writer (64-column base64).
static std::string pemOf(const std::string& der, const char* label) {
  std::string begin = std::string("-----BEGIN ") + label + "-----\n", end = std::string("-----END ") + label + "-----\n";
  std::vector<unsigned char> buf(der.size() * 4 / 3 + der.size() / 48 + 128);
  size_t n = 0;
  if (mbedtls_pem_write_buffer(begin.c_str(), end.c_str(), reinterpret_cast<const unsigned char*>(der.data()), der.size(), buf.data(), buf.size(), &n) != 0) return "";
  return std::string(reinterpret_cast<const char*>(buf.data()));
}

static bool isCertificate(const std::string& der) {
  mbedtls_x509_crt crt;
  mbedtls_x509_crt_init(&crt);
  bool ok = mbedtls_x509_crt_parse_der(&crt, reinterpret_cast<const unsigned char*>(der.data()), der.size()) == 0;
  mbedtls_x509_crt_free(&crt);
  return ok;
}

#if MBEDTLS_VERSION_MAJOR >= 3
static int ibRandom(void*, unsigned char* out, size_t n) {
  esp_fill_random(out, n);
  return 0;
}
#endif

// keyPemOf parses private.der as mbedTLS will at connect (PKCS#1, SEC 1 or
// PKCS#8 DER) and writes it back as the PEM its type needs; "" when it is
// not a key, so the sketch stops here as BearSSL's does on the ESP8266.
static std::string keyPemOf(const std::string& der) {
  mbedtls_pk_context pk;
  mbedtls_pk_init(&pk);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
#if MBEDTLS_VERSION_MAJOR >= 3
  int ret = mbedtls_pk_parse_key(&pk, p, der.size(), nullptr, 0, ibRandom, nullptr);
#else
  int ret = mbedtls_pk_parse_key(&pk, p, der.size(), nullptr, 0);
#endif
  std::string pem;
  if (ret == 0) {
    std::vector<unsigned char> buf(4096);
    if (mbedtls_pk_write_key_pem(&pk, buf.data(), buf.size()) == 0) pem = reinterpret_cast<const char*>(buf.data());
  }
  mbedtls_pk_free(&pk);
  return pem;
}
#endif

static void mountAndRead() {
#if defined(ESP8266) && !defined(IB_USE_SPIFFS)
  // Never format a filesystem that does not mount: the identity files are
  // on it, and "mount failed" tells the user the image is at the wrong
  // offset or built with other parameters (filesystem-images.md).
  LittleFSConfig fsc;
  fsc.setAutoFormat(false);
  LittleFS.setConfig(fsc);
#elif defined(ESP8266)
  SPIFFSConfig fsc;
  fsc.setAutoFormat(false);
  SPIFFS.setConfig(fsc);
#endif
#if defined(ESP8266)
  bool mounted = IB_FS.begin();
  uint32_t fsStart = uint32_t(&_FS_start) - 0x40200000, fsSize = uint32_t(&_FS_end) - uint32_t(&_FS_start);
#else
  bool mounted = IB_FS.begin(false);
  uint32_t fsStart = 0, fsSize = 0;
#endif
  const char* kind = strcmp(kFSName, "LittleFS") == 0 ? "littlefs" : "spiffs";
  if (!mounted) {
    say("fs_fail", kFSName, fsStart, int(fsSize));
    status(ib::Status{"fs"}.add("ok", "0").add("kind", kind));
    stop("fix the filesystem image and reset");
  }
  String names;
#if defined(ESP8266)
  Dir dir = IB_FS.openDir("/");
  while (dir.next()) {
    if (!dir.isFile()) continue;
    if (names.length()) names += ",";
    names += dir.fileName();
  }
#else
  File root = IB_FS.open("/");
  for (File f = root.openNextFile(); f; f = root.openNextFile()) {
    if (names.length()) names += ",";
    names += f.name();
  }
#endif
  say("fs_ok", kFSName, names.c_str());
  status(ib::Status{"fs"}.add("ok", "1").add("kind", kind).add("files", names.c_str()));

  std::string text;
  if (!readFile("config.json", &text)) stop("fix the filesystem image and reset");
  ib::ConfigError err;
  if (!ib::parseConfig(text, &cfg, &err)) {
    say("cfg_fail", err.field.empty() ? "config.json" : err.field.c_str(), err.code.c_str());
    status(ib::Status{"cfg"}.add("ok", "0").add("field", err.field).add("err", err.code));
    stop("fix the filesystem image and reset");
  }
  say("cfg_ok", cfg.thing.c_str(), cfg.host.c_str(), cfg.port, int(cfg.sensors.size()), cfg.publishIntervalS);
  status(ib::Status{"cfg"}.add("ok", "1").add("thing", cfg.thing).add("sensors", ib::sensorTypes(cfg)));

  std::string cert, key, ca;
  bool haveCert = readFile("cert.der", &cert), haveKey = readFile("private.der", &key);
  bool haveCA = readFile("ca.der", &ca);
#if defined(ESP8266)
  // The (buffer, length) constructors take DER or PEM (device-side.md §3.1).
  if (haveCert) {
    clientCert = new BearSSL::X509List(reinterpret_cast<const uint8_t*>(cert.data()), cert.size());
    if (clientCert->getCount() == 0) fileBad("cert.der", "no certificate"), haveCert = false;
  }
  if (haveKey) {
    clientKey = new BearSSL::PrivateKey(reinterpret_cast<const uint8_t*>(key.data()), key.size());
    if (!clientKey->isRSA() && !clientKey->isEC()) fileBad("private.der", "not an RSA or EC private key"), haveKey = false;
  }
  // An unreadable ca.der leaves no trust anchor: the handshake then fails
  // with 62, which is what the log should show (device-side.md §3.5).
  trustAnchors = new BearSSL::X509List();
  if (haveCA && !trustAnchors->append(reinterpret_cast<const uint8_t*>(ca.data()), ca.size())) fileBad("ca.der", "no certificate");
  if (!haveCert || !haveKey) stop("no usable client certificate and key: re-provision the board");
  if (clientKey->isRSA()) {
    net.setClientRSACert(clientCert, clientKey);
  } else {
    net.setClientECCert(clientCert, clientKey, BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN, BR_KEYTYPE_EC);
  }
  net.setTrustAnchors(trustAnchors);
  // 512-byte transmit buffer; receive size from config (16384 unless the
  // server negotiates max fragment length, device-side.md §3.1).
  net.setBufferSizes(cfg.rxBuffer, 512);
#else
  // arduino-esp32's WiFiClientSecure takes PEM text and parses it at every
  // connect: check the DER files now, as the ESP8266 path does, and wrap
  // them. A ca.der that does not parse is still handed over, so each
  // connect fails with mbedTLS's X509 error in the log; without ca.der
  // setCACert is never called and start_ssl_client refuses with -1.
  if (haveCert && !isCertificate(cert)) fileBad("cert.der", "no certificate"), haveCert = false;
  if (haveKey) {
    keyPem = keyPemOf(key);
    if (keyPem.empty()) fileBad("private.der", "not an RSA or EC private key"), haveKey = false;
  }
  if (haveCA && !isCertificate(ca)) fileBad("ca.der", "no certificate");
  if (!haveCert || !haveKey) stop("no usable client certificate and key: re-provision the board");
  certPem = pemOf(cert, "CERTIFICATE");
  net.setCertificate(certPem.c_str());
  net.setPrivateKey(keyPem.c_str());
  if (haveCA) {
    caPem = pemOf(ca, "CERTIFICATE");
    net.setCACert(caPem.c_str());
  }
  // The default handshake timeout is 120 s, all of it inside loop():
  // OTA and the serial status would stall that long on a silent server.
  net.setHandshakeTimeout(10);
#endif
}

// ---- sensors --------------------------------------------------------------

// One small interface; the config's list decides which drivers run
// (device-side.md §6.3). read() fills values in quantities() order.
struct SensorDriver {
  const ib::Sensor* conf;
  uint32_t next = 0;
  bool ok = false;
  double values[3] = {0, 0, 0};
  virtual ~SensorDriver() {}
  virtual void begin() {}
  virtual bool read(double* v) = 0;
};

struct AnalogLight : SensorDriver {
  bool read(double* v) override {
    v[0] = analogRead(conf->pin);
    return true;
  }
};

struct AnalogTemp : SensorDriver {
  bool read(double* v) override {
    v[0] = ib::analogTempC(analogRead(conf->pin));
    return true;
  }
};

struct Dht22 : SensorDriver {
  DHT* dht = nullptr;
  void begin() override {
    dht = new DHT(conf->pin, DHT22);
    dht->begin();
  }
  bool read(double* v) override {
    v[0] = dht->readTemperature();
    v[1] = dht->readHumidity();
    return !isnan(v[0]) && !isnan(v[1]);
  }
};

// PMS5003: 32-byte frames "BM", length 28, 13 words, checksum = sum of the
// first 30 bytes; words 4–6 are PM1.0/PM2.5/PM10 (atmospheric) in µg/m³.
struct Pms5003 : SensorDriver {
  SoftwareSerial* port = nullptr;
  void begin() override {
    port = new SoftwareSerial(conf->pin, -1);
    port->begin(9600);
  }
  bool read(double* v) override {
    uint8_t f[32];
    uint32_t until = millis() + 1500;
    while (millis() < until) {
      if (port->available() < 32) {
        delay(10);
        continue;
      }
      if (port->read() != 0x42 || port->peek() != 0x4d) continue;
      f[0] = 0x42;
      port->readBytes(f + 1, 31);
      uint16_t sum = 0;
      for (int i = 0; i < 30; i++) sum += f[i];
      if (sum != uint16_t(f[30] << 8 | f[31])) continue;
      for (int i = 0; i < 3; i++) v[i] = f[10 + 2 * i] << 8 | f[11 + 2 * i];
      return true;
    }
    return false;
  }
};

struct Fake : SensorDriver {
  bool read(double* v) override {
    v[0] = ib::fakeReading(seq);
    return true;
  }
};

static std::vector<SensorDriver*> drivers;

static void startSensors() {
  for (const auto& s : cfg.sensors) {
    SensorDriver* d = nullptr;
    if (s.type == "analog_light") d = new AnalogLight();
    else if (s.type == "analog_temp") d = new AnalogTemp();
    else if (s.type == "dht22") d = new Dht22();
    else if (s.type == "pms5003") d = new Pms5003();
    else if (s.type == "fake") d = new Fake();
    if (!d) continue;  // "none"
    d->conf = &s;
    d->begin();
    drivers.push_back(d);
  }
}

static void sampleSensors(uint32_t now) {
  for (auto* d : drivers) {
    if (int32_t(now - d->next) < 0) continue;
    d->next = now + uint32_t(d->conf->intervalS) * 1000;
    d->ok = d->read(d->values);
  }
}

// ---- network ------------------------------------------------------------

#if defined(ESP8266)
static WiFiEventHandler onDisconnect;
#endif

static void startWiFi() {
  say("wifi_open", cfg.ssid.c_str());
  Serial.print("\r\n");
  WiFi.mode(WIFI_STA);
  WiFi.persistent(false);
#if defined(ESP8266)
  onDisconnect = WiFi.onStationModeDisconnected([](const WiFiEventStationModeDisconnected& e) {
    say("wifi_fail", int(e.reason), "see device-side.md 3.9");
    status(ib::Status{"wifi_disc"}.add("reason", int(e.reason)));
  });
#endif
  WiFi.begin(cfg.ssid.c_str(), cfg.password.c_str());
}

static bool wifiReported = false;

static bool wifiUp() {
  bool up = WiFi.status() == WL_CONNECTED;
  if (up && !wifiReported) {
    String ip = WiFi.localIP().toString();
    say("wifi_ok", ip.c_str());
    status(ib::Status{"wifi"}.add("status", 3).add("ip", ip.c_str()).add("rssi", WiFi.RSSI()).add("ch", WiFi.channel()));
    configTime(0, 0, "pool.ntp.org", "time.nist.gov");
    say("ntp_open");
    if (cfg.ota) {
      ArduinoOTA.setHostname(cfg.otaHostname.c_str());
      ArduinoOTA.setPort(cfg.otaPort);
      ArduinoOTA.setPasswordHash(cfg.otaPasswordMD5.c_str());
      ArduinoOTA.onStart([]() {
        mqtt.disconnect();  // frees the TLS buffers for the update
        say("ota_start", ArduinoOTA.getCommand() == U_FLASH ? "flash" : "filesystem");
        status(ib::Status{"ota"}.add("phase", "start"));
      });
      ArduinoOTA.onEnd([]() {
        say("ota_end");
        status(ib::Status{"ota"}.add("phase", "end"));
      });
      ArduinoOTA.onError([](ota_error_t e) {
        say("ota_error", int(e));
        status(ib::Status{"ota"}.add("phase", "error").add("err", int(e)));
      });
      ArduinoOTA.begin();
      otaStarted = true;
    }
  }
  wifiReported = up;
  return up;
}

static uint32_t ntpStart = 0;
static bool ntpReported = false;

// timeValid is the canonical check: time() past 16 h after the epoch (§4).
static bool timeValid() {
  time_t now = time(nullptr);
  bool ok = now >= 8 * 3600 * 2;
  if (ok && !ntpReported) {
    ntpReported = true;
    Serial.print("\r\n");
    say("ntp_ok", ib::asctimeUTC(now).c_str());
    status(ib::Status{"ntp"}.add("synced", "1").add("epoch", (long long)now).add("waited_ms", (long long)(millis() - ntpStart)));
  }
  return ok;
}

static bool connectMqtt() {
  say("mqtt_open", cfg.host.c_str(), cfg.port, cfg.thing.c_str());
  mqtt.setServer(cfg.host.c_str(), cfg.port);  // by name: SNI and the name check need it (§3.5)
  bool ok = mqtt.connect(cfg.thing.c_str());
  int heap = ESP.getFreeHeap();
  if (ok) {
    say("mqtt_ok");
#if defined(ESP8266)
    status(ib::Status{"tls"}.add("ok", "1").add("code", 0).add("mfln", net.getMFLNStatus() ? 1 : 0).add("heap", heap));
#else
    status(ib::Status{"tls"}.add("ok", "1").add("code", 0).add("mfln", 0).add("heap", heap));
#endif
    status(ib::Status{"mqtt"}.add("state", 0).add("connack", 0));
#if defined(ESP8266)
    status(ib::Status{"heap"}.add("free", heap).add("max_block", ESP.getMaxFreeBlockSize()).add("frag", ESP.getHeapFragmentation()));
#else
    int maxBlock = ESP.getMaxAllocHeap();
    status(ib::Status{"heap"}.add("free", heap).add("max_block", maxBlock).add("frag", heap > 0 ? 100 - int(int64_t(maxBlock) * 100 / heap) : 0));
#endif
    return true;
  }
  int state = mqtt.state();
  say("mqtt_fail", state, int(ib::backoffMs(machine->failures() + 1) / 1000));
  char text[160] = "";
#if defined(ESP8266)
  int code = net.getLastSSLError(text, sizeof text);
#else
  // An mbedTLS code (negative), mbedtls_strerror's text; a failed name
  // lookup leaves the previous value (firmware/mbedtls.go).
  int code = net.lastError(text, sizeof text);
#endif
  if (state == MQTT_CONNECT_FAILED) {
    say("ssl_error", text);
    status(ib::Status{"tls"}.add("ok", "0").add("code", code).add("text", text).add("mfln", 0).add("heap", heap));
  } else {
    status(ib::Status{"tls"}.add("ok", "1").add("code", 0).add("mfln", 0).add("heap", heap));
  }
  // CONNACK code for states 1..5; -1 when none arrived (-4) or no TCP/TLS (-2).
  status(ib::Status{"mqtt"}.add("state", state).add("connack", state > 0 ? state : -1));
  return false;
}

static void publish() {
  ib::Payload p;
  p.thing = cfg.thing;
  p.t = time(nullptr);
  p.seq = seq;
  p.rssi = WiFi.RSSI();
  p.heap = ESP.getFreeHeap();
  for (auto* d : drivers) {
    if (!d->ok) {
      p.errors.push_back(d->conf->name);
      continue;
    }
    auto qs = ib::quantities(d->conf->type);
    if (qs.empty()) {
      p.readings.push_back({d->conf->name, "", d->values[0]});
      continue;
    }
    for (size_t i = 0; i < qs.size(); i++) p.readings.push_back({d->conf->name, qs[i], d->values[i]});
  }
  std::string json;
  if (!ib::buildPayload(p, &json)) return;
  const std::string& topic = cfg.telemetryTopic;
  size_t need = ib::packetSize(topic, json.size());
  if (need > size_t(ib::kMqttBufferSize)) {
    say("pub_too_big", int(need), ib::kMqttBufferSize);
    status(ib::Status{"pub"}.add("topic", topic).add("bytes", (long long)json.size()).add("ok", "0").add("seq", (long long)seq));
    return;
  }
  bool ok = mqtt.publish(topic.c_str(), json.c_str());
  say("publish", json.c_str());
  status(ib::Status{"pub"}.add("topic", topic).add("bytes", (long long)json.size()).add("ok", ok ? "1" : "0").add("seq", (long long)seq));
  seq++;
}

// ---- setup / loop -------------------------------------------------------

void setup() {
#if defined(ESP8266)
  Serial.begin(74880);  // the ROM's rate: one rate shows everything (device-side.md §1.1)
#else
  Serial.begin(115200);  // the ESP32-family ROMs' rate (device-side.md §1.8)
#endif
  printBoot();
  mountAndRead();
  startSensors();
  mqtt.setBufferSize(ib::kMqttBufferSize);
  mqtt.setKeepAlive(60);      // AWS treats less than 30 s as 30 s
  mqtt.setSocketTimeout(5);   // keep loop() (and OTA) responsive (§6.3)
  machine = new ib::Machine(uint32_t(cfg.publishIntervalS) * 1000);
  startWiFi();
  ntpStart = millis();
}

static bool wasOnline = false;

void loop() {
  if (otaStarted) ArduinoOTA.handle();
  uint32_t now = millis();
  bool up = wifiUp();
  bool online = mqtt.connected();
  if (wasOnline && !online) {
    say("mqtt_lost", mqtt.state());
    status(ib::Status{"mqtt"}.add("state", mqtt.state()).add("connack", -1));
  }
  wasOnline = online;
  switch (machine->step(now, up, up && timeValid(), online)) {
    case ib::Action::ReportNTP: {
      Serial.print("\r\n");
      say("ntp_fail", int((now - ntpStart) / 1000));
      status(ib::Status{"ntp"}.add("synced", "0").add("epoch", (long long)time(nullptr)).add("waited_ms", (long long)(now - ntpStart)));
      say("ntp_open");
      break;
    }
    case ib::Action::Connect:
      machine->connected(millis(), wasOnline = connectMqtt());
      break;
    case ib::Action::Publish:
      publish();
      break;
    case ib::Action::None:
      break;
  }
  if (machine->state() == ib::State::WaitNTP && !ntpReported) {
    static uint32_t lastDot = 0;
    if (now - lastDot >= 500) {
      lastDot = now;
      Serial.print('.');
    }
  }
  sampleSensors(now);
  mqtt.loop();
  delay(10);
}
