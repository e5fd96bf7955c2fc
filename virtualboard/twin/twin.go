package twin

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/serialmon/decode"
	"github.com/iotbench/iotbench/virtualboard"
)

// NTPMode is how the simulated SNTP server answers.
type NTPMode int

const (
	NTPOK    NTPMode = iota // answers after about 1.5 s
	NTPSlow                 // answers after 12 s
	NTPNever                // never answers (UDP 123 blocked)
	NTPWrong                // answers at once with Options.WrongEpoch
)

// Network is a Wi-Fi network in range of the board.
type Network struct {
	SSID, Password string
	RSSI           int // dBm; 0 means -61
	Channel        int // 0 means 6
}

// Options configure the twin. The zero value is a board within reach of
// the Wi-Fi network its config.json names, with working NTP, a 4M2M
// LittleFS layout, and a resolver that only knows localhost.
type Options struct {
	// Layout is the flash layout the sketch was built with ("4M2M", the
	// NodeMCU default, when empty).
	Layout string
	// FS is the filesystem the sketch was built with (LittleFS when empty).
	FS layout.FSKind
	// FSLabel is the partition label the sketch passes to LittleFS.begin()
	// or SPIFFS.begin() on ESP32-family chips ("spiffs" when empty, the
	// arduino-esp32 default for both); Layout is for the ESP8266 only.
	FSLabel string
	// Networks in range; nil means the one config.json names (with its
	// password). An empty, non-nil list means no network at all.
	Networks []Network
	NTP      NTPMode
	// WrongEpoch is the time NTPWrong sets (default 2000-01-01).
	WrongEpoch int64
	// Now is the wall clock the simulated NTP server reads (time.Now).
	Now func() time.Time
	// Resolve maps the endpoint host to an IP address (DNS). The default
	// knows only localhost; anything else fails like a failed lookup.
	Resolve func(ctx context.Context, host string) (string, error)
	// Sensor reads a sensor (quantity "" for single-valued ones) for the
	// publish with sequence number seq; ok=false is a failed read. The
	// default returns fixed, plausible values (and FakeReading for fake).
	Sensor func(s firmware.Sensor, quantity string, seq uint32) (v float64, ok bool)
	// NewOTA, when set, starts ArduinoOTA after Wi-Fi is up; its Handle
	// runs every loop iteration like ArduinoOTA.handle().
	NewOTA func() OTA
	// Log receives diagnostics about the simulation itself.
	Log func(string)
}

// OTAConfig is what the sketch passes to ArduinoOTA (config.json "ota").
type OTAConfig struct {
	Hostname    string
	Port        int
	PasswordMD5 string
}

// OTAHooks are the sketch's ArduinoOTA callbacks.
type OTAHooks struct {
	// OnStart closes the MQTT connection (frees TLS heap, device-side.md
	// §6.3) and prints; call it when an upload starts.
	OnStart func(target string)
	OnEnd   func()
	OnError func(code int)
}

// OTA is the ArduinoOTA side of the sketch (device-side.md §5): Begin is
// ArduinoOTA.begin() once the station is up; Handle is ArduinoOTA.handle(),
// called every loop iteration and expected to return quickly.
type OTA interface {
	Begin(ctx context.Context, env *virtualboard.AppEnv, cfg OTAConfig, hooks OTAHooks) error
	Handle(ctx context.Context)
}

// Timing of the sketch and the SDK on the board clock.
const (
	baud           = firmware.SerialBaud      // device-side.md §1.1, §6.3: one rate for ROM and sketch
	esp32Baud      = firmware.SerialBaudESP32 // §1.8: the ESP32-family ROMs' rate
	loopTick       = 100 * time.Millisecond
	wifiJoin       = 3 * time.Second // scan, auth, assoc, DHCP
	wifiRetry      = 5 * time.Second // SDK reconnect after a failure
	ntpPoll        = 500 * time.Millisecond
	ntpTimeout     = 30 * time.Second // the sketch's report interval while waiting
	socketTimeout  = 5 * time.Second  // setSocketTimeout(5), device-side.md §6.3
	keepAlive      = 60 * time.Second // setKeepAlive(60): AWS treats < 30 s as 30 s
	minNetworkWait = 5 * time.Second  // real time allowed for a CONNACK or PUBLISH write
	tlsStack       = 6144             // BearSSL's second stack
	tlsEngine      = 4000             // engine state, roughly
	freeHeapIdle   = 46000            // free heap with Wi-Fi up (device-side.md §3.1: ~40–50 KiB)
)

// App returns the twin as a virtual board application.
func App(o Options) virtualboard.App {
	return func(ctx context.Context, env *virtualboard.AppEnv) {
		s := &sketch{o: o, env: env}
		s.run(ctx)
	}
}

type sketch struct {
	o   Options
	env *virtualboard.AppEnv

	cfg     *firmware.Config
	cert    []byte
	key     crypto.Signer
	ca      *x509.CertPool
	network Network

	syncAt    time.Duration // board time of the NTP answer
	syncEpoch int64

	client   mqtt.Client
	lost     atomic.Bool
	attempts int
	seq      uint32
	ota      OTA
	lastTLS  lastError // ESP32 family (tls32.go)
	// ca.der was read / did not parse (the ESP32 sketch hands it to
	// mbedTLS as it is, which fails at connect, tls32.go).
	haveCA, caBad bool
}

func (s *sketch) logf(format string, a ...any) {
	if s.o.Log != nil {
		s.o.Log(fmt.Sprintf(format, a...))
	}
}

func (s *sketch) line(id string, a ...any) { s.env.Print(firmware.Line(id, a...)) }

func (s *sketch) status(event string, kv ...string) {
	st := firmware.Status{Event: event}
	for i := 0; i+1 < len(kv); i += 2 {
		st.Fields = append(st.Fields, firmware.Field{Key: kv[i], Value: kv[i+1]})
	}
	s.env.Print(st.String() + "\r\n")
}

func itoa(n int) string { return strconv.Itoa(n) }

func bit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// stop is the sketch giving up for good (nothing it can do without a
// reflash); it idles like a sketch spinning in loop().
func (s *sketch) stop(ctx context.Context, why string) {
	s.line(firmware.LineStop, why)
	<-ctx.Done()
}

func (s *sketch) run(ctx context.Context) {
	// arduino-esp32's initArduino() confirms a new app before setup()
	// (nothing on the ESP8266).
	if s.env.InitArduino(ctx, virtualboard.ArduinoHooks{}) != nil {
		return
	}
	if s.env.Chip() == "ESP8266" {
		s.env.Begin(baud)
	} else {
		s.env.Begin(esp32Baud)
	}
	s.boot()
	if !s.readFiles() {
		s.stop(ctx, "fix the filesystem image and reset")
		return
	}
	if s.key == nil || s.cert == nil {
		s.stop(ctx, "no usable client certificate and key: re-provision the board")
		return
	}
	if !s.joinWiFi(ctx) {
		return
	}
	if s.o.NewOTA != nil && s.cfg.OTA != nil {
		s.ota = s.o.NewOTA()
		err := s.ota.Begin(ctx, s.env, OTAConfig{Hostname: s.cfg.OTA.Hostname, Port: s.cfg.OTA.Port, PasswordMD5: s.cfg.OTA.PasswordMD5}, s.otaHooks())
		if err != nil {
			s.logf("ArduinoOTA.begin: %v", err)
			s.ota = nil
		}
	}
	if !s.waitNTP(ctx) {
		return
	}
	s.loop(ctx)
	s.disconnect()
}

// boot prints the identity line (device-side.md §6.3, §6.4).
func (s *sketch) boot() {
	mac := s.env.MAC()
	chip := fmt.Sprintf("%08x", uint32(mac[3])<<16|uint32(mac[4])<<8|uint32(mac[5]))
	flash := s.env.Flash().Size()
	core, arch := firmware.CoreVersion, firmware.ArchESP8266
	var reason int
	var reasonText string
	if s.env.Chip() == "ESP8266" {
		// The SDK's reset reason for the ROM's cause (device-side.md §1.3):
		// power-on 0; cause 2 (reset pin or a software restart) is reported
		// as an external reset, 4 as the hardware watchdog.
		reason = map[int]int{1: 0, 2: 6, 4: 1, 5: 5}[s.env.ResetCause]
		_, reasonText = decode.SDKResetReason(reason)
	} else {
		// The sketch prints esp_reset_reason() and CONFIG_IDF_TARGET
		// ("esp32c3") on the ESP32 family (firmware/reset.go).
		core, arch = firmware.CoreVersionESP32, strings.ToLower(strings.ReplaceAll(s.env.Chip(), "-", ""))
		reason = idfResetReason(s.env.ROMResetCode())
		_, reasonText = firmware.ESP32ResetReason(reason)
	}
	s.env.Print("\r\n")
	s.line(firmware.LineBanner, firmware.AppName, firmware.AppVersion, core, chip, flash)
	s.status(firmware.EventBoot, firmware.KeyApp, firmware.AppName, firmware.KeyVer, firmware.AppVersion,
		firmware.KeyCore, core, firmware.KeyArch, arch, firmware.KeyChip, chip, firmware.KeyFlash, itoa(flash),
		firmware.KeyReason, itoa(reason), firmware.KeyReasonS, reasonText)
	s.line(firmware.LineReset, reasonText)
}

// idfResetReason is esp_reset_reason() for the ROM's rst code, as ESP-IDF's
// components/esp_system/port/soc/<chip>/reset_reason.c maps it (without a
// panic or watchdog hint stored before a software restart, which the twin
// never leaves).
func idfResetReason(rst int) int {
	switch rst {
	case 0x1:
		return firmware.ESP32ResetPowerOn
	case 0x3, 0xc: // RTC_SW_SYS_RESET, SW_CPU_RESET
		return 3 // ESP_RST_SW
	case 0x5:
		return 8 // ESP_RST_DEEPSLEEP
	case 0x7:
		return firmware.ESP32ResetTaskWDT // TG0WDT_SYS_RESET
	case 0x8:
		return firmware.ESP32ResetIntWDT // TG1WDT_SYS_RESET
	case 0x9, 0xb, 0xd, 0x10: // RTC and timer-group watchdogs
		return firmware.ESP32ResetWDT
	case 0xf:
		return firmware.ESP32ResetBrownout
	case 0x15, 0x16: // USB_UART_CHIP_RESET, USB_JTAG_CHIP_RESET
		return 11 // ESP_RST_USB
	}
	return 0 // ESP_RST_UNKNOWN
}

// readFiles mounts the filesystem and reads config.json and the identity
// files (device-side.md §3.2). It returns false when the sketch cannot go on.
func (s *sketch) readFiles() bool {
	kind := s.o.FS
	if kind == "" {
		kind = layout.LittleFS
	}
	fsName := map[layout.FSKind]string{layout.LittleFS: "LittleFS", layout.SPIFFS: "SPIFFS"}[kind]
	g, err := s.fsRegion(kind)
	var vol volume
	var names []string
	if err == nil {
		vol, names, err = mount(s.env.Flash().Read(g.Offset, int(g.Size)), kind, g)
	}
	if err != nil {
		s.logf("mount: %v", err)
		s.line(firmware.LineFSFail, fsName, g.Offset, g.Size)
		s.status(firmware.EventFS, firmware.KeyOK, "0", firmware.KeyKind, string(kind))
		return false
	}
	s.line(firmware.LineFSOK, fsName, strings.Join(names, ","))
	s.status(firmware.EventFS, firmware.KeyOK, "1", firmware.KeyKind, string(kind), firmware.KeyFiles, strings.Join(names, ","))

	cfgBytes, ok := s.readFile(vol, firmware.ConfigFile)
	if !ok {
		return false
	}
	cfg, err := firmware.Parse(cfgBytes)
	if err != nil {
		var ce *firmware.ConfigError
		field, code := "", "json"
		if errors.As(err, &ce) {
			field, code = ce.Field, ce.Code
		}
		s.line(firmware.LineCfgFail, orFile(field), code)
		s.status(firmware.EventCfg, firmware.KeyOK, "0", firmware.KeyField, field, firmware.KeyErr, code)
		return false
	}
	s.cfg = cfg
	s.line(firmware.LineCfgOK, cfg.Thing, cfg.Endpoint.Host, cfg.Endpoint.Port, len(cfg.Sensors), cfg.PublishIntervalS)
	s.status(firmware.EventCfg, firmware.KeyOK, "1", firmware.KeyThing, cfg.Thing, firmware.KeySensors, cfg.SensorNames())

	if der, ok := s.readFile(vol, firmware.CertFile); ok {
		if _, err := x509.ParseCertificate(der); err != nil {
			s.fileBad(firmware.CertFile, "no certificate")
		} else {
			s.cert = der
		}
	}
	if der, ok := s.readFile(vol, firmware.KeyFile); ok {
		if k, err := firmware.ParseDeviceKey(der); err != nil {
			// The sketch's words (iotbench.ino: isRSA()/isEC() both false).
			s.fileBad(firmware.KeyFile, "not an RSA or EC private key")
		} else {
			s.key = k
		}
	}
	// Without a parsable ca.der the trust anchor list stays empty and the
	// handshake fails to link the chain (device-side.md §3.5), which is
	// what the sketch lets happen so the log shows the TLS error.
	s.ca = x509.NewCertPool()
	if der, ok := s.readFile(vol, firmware.CAFile); ok {
		s.haveCA = true
		if c, err := x509.ParseCertificate(der); err != nil {
			s.caBad = true
			s.fileBad(firmware.CAFile, "no certificate")
		} else {
			s.ca.AddCert(c)
		}
	}
	return true
}

func orFile(field string) string {
	if field == "" {
		return firmware.ConfigFile
	}
	return field
}

func (s *sketch) fileBad(name, why string) {
	s.line(firmware.LineFileBad, name, why)
	s.status(firmware.EventFile, firmware.KeyName, name, firmware.KeyOK, "0", firmware.KeyErr, firmware.FileParse)
}

// readFile opens one file and reports it: missing and empty are told apart
// (device-side.md §3.2).
func (s *sketch) readFile(vol volume, name string) ([]byte, bool) {
	data, err := vol.ReadFile("/" + name)
	switch {
	case err != nil:
		s.line(firmware.LineFileMissing, name)
		s.status(firmware.EventFile, firmware.KeyName, name, firmware.KeyOK, "0", firmware.KeyErr, firmware.FileMissing)
		return nil, false
	case len(data) == 0:
		s.line(firmware.LineFileEmpty, name)
		s.status(firmware.EventFile, firmware.KeyName, name, firmware.KeyOK, "0", firmware.KeyErr, firmware.FileEmpty)
		return nil, false
	}
	s.line(firmware.LineFileOK, name, len(data))
	s.status(firmware.EventFile, firmware.KeyName, name, firmware.KeyOK, "1", firmware.KeyBytes, itoa(len(data)))
	return data, true
}

// joinWiFi is WiFi.begin() and the wait for WL_CONNECTED, with the SDK's
// disconnect reasons (device-side.md §3.9): 201 NO_AP_FOUND when the SSID
// is not in range, 15 4WAY_HANDSHAKE_TIMEOUT for a wrong passphrase.
func (s *sketch) joinWiFi(ctx context.Context) bool {
	s.line(firmware.LineWiFiOpen, s.cfg.WiFi.SSID)
	s.env.Print("\r\n")
	nets := s.o.Networks
	if nets == nil {
		nets = []Network{{SSID: s.cfg.WiFi.SSID, Password: s.cfg.WiFi.Password}}
	}
	for {
		if s.env.Sleep(ctx, wifiJoin) != nil {
			return false
		}
		reason, status := 201, 1 // NO_AP_FOUND, WL_NO_SSID_AVAIL
		for _, n := range nets {
			if n.SSID != s.cfg.WiFi.SSID {
				continue
			}
			if n.Password == s.cfg.WiFi.Password {
				s.network = n
				if s.network.RSSI == 0 {
					s.network.RSSI = -61
				}
				if s.network.Channel == 0 {
					s.network.Channel = 6
				}
				ip := "192.168.1.50"
				s.line(firmware.LineWiFiOK, ip)
				s.status(firmware.EventWiFi, firmware.KeyStatus, "3", firmware.KeyIP, ip,
					firmware.KeyRSSI, itoa(s.network.RSSI), firmware.KeyCh, itoa(s.network.Channel))
				return true
			}
			reason, status = 15, 6 // 4WAY_HANDSHAKE_TIMEOUT, WL_WRONG_PASSWORD
		}
		name, _ := decode.WiFiReason(reason)
		s.line(firmware.LineWiFiFail, reason, name)
		s.status(firmware.EventWiFiDisc, firmware.KeyReason, itoa(reason))
		s.status(firmware.EventWiFi, firmware.KeyStatus, itoa(status))
		if s.env.Sleep(ctx, wifiRetry) != nil {
			return false
		}
	}
}

// waitNTP is configTime() and the canonical wait (device-side.md §4): a
// dot per 500 ms poll until time() passes 16 hours after the epoch; every
// 30 s without an answer the sketch reports and keeps waiting.
func (s *sketch) waitNTP(ctx context.Context) bool {
	start := s.env.Now()
	answer := map[NTPMode]time.Duration{NTPOK: 1500 * time.Millisecond, NTPSlow: 12 * time.Second, NTPWrong: 500 * time.Millisecond, NTPNever: -1}[s.o.NTP]
	s.line(firmware.LineNTPOpen)
	reported := start
	for {
		waited := s.env.Now() - start
		if answer >= 0 && waited >= answer {
			break
		}
		if s.env.Now()-reported >= ntpTimeout {
			reported = s.env.Now()
			s.env.Print("\r\n")
			s.line(firmware.LineNTPFail, int(waited/time.Second))
			// time() before a sync counts seconds since boot (§4).
			s.status(firmware.EventNTP, firmware.KeySynced, "0", firmware.KeyEpoch, itoa(int(s.env.Now()/time.Second)),
				firmware.KeyWaitedMS, itoa(int(waited/time.Millisecond)))
			s.line(firmware.LineNTPOpen)
		}
		s.handleOTA(ctx)
		if s.env.Sleep(ctx, ntpPoll) != nil {
			return false
		}
		s.env.Print(".")
	}
	s.syncAt = s.env.Now()
	switch {
	case s.o.NTP == NTPWrong && s.o.WrongEpoch != 0:
		s.syncEpoch = s.o.WrongEpoch
	case s.o.NTP == NTPWrong:
		s.syncEpoch = 946684800 // 2000-01-01
	default:
		now := time.Now
		if s.o.Now != nil {
			now = s.o.Now
		}
		s.syncEpoch = now().Unix()
	}
	s.env.Print("\r\n")
	s.line(firmware.LineNTPOK, firmware.Asctime(s.syncEpoch))
	s.status(firmware.EventNTP, firmware.KeySynced, "1", firmware.KeyEpoch, strconv.FormatInt(s.syncEpoch, 10),
		firmware.KeyWaitedMS, itoa(int((s.syncAt-start)/time.Millisecond)))
	return true
}

// epoch is time(nullptr) after the sync.
func (s *sketch) epoch() time.Time {
	d := s.env.Now() - s.syncAt
	return time.Unix(s.syncEpoch, 0).Add(d)
}

func (s *sketch) handleOTA(ctx context.Context) {
	if s.ota != nil {
		s.ota.Handle(ctx)
	}
}

func (s *sketch) otaHooks() OTAHooks {
	return OTAHooks{
		OnStart: func(target string) {
			s.disconnect()
			s.line(firmware.LineOTAStart, target)
			s.status(firmware.EventOTA, firmware.KeyPhase, firmware.OTAPhaseStart)
		},
		OnEnd: func() {
			s.line(firmware.LineOTAEnd)
			s.status(firmware.EventOTA, firmware.KeyPhase, firmware.OTAPhaseEnd)
		},
		OnError: func(code int) {
			s.line(firmware.LineOTAError, code)
			s.status(firmware.EventOTA, firmware.KeyPhase, firmware.OTAPhaseError, firmware.KeyErr, itoa(code))
		},
	}
}

// heap models ESP.getFreeHeap(): what Wi-Fi leaves, minus BearSSL's
// buffers (receive + 325, transmit 512 + 85, device-side.md §3.1), its
// second stack and engine state while a connection is up.
func (s *sketch) heap(connected bool) int {
	if !connected {
		return freeHeapIdle
	}
	return freeHeapIdle - (s.cfg.TLS.RxBuffer + 325) - (512 + 85) - tlsStack - tlsEngine
}

// loop is the sketch's loop(): ArduinoOTA.handle(), the connection state
// machine with backoff, mqtt.loop(), sensor reads and publishes.
func (s *sketch) loop(ctx context.Context) {
	nextTry := s.env.Now()
	nextPub := time.Duration(0)
	sensors := newSampler(s.cfg.Sensors, s.o.Sensor)
	for ctx.Err() == nil {
		s.handleOTA(ctx)
		now := s.env.Now()
		if s.client != nil && s.lost.Load() {
			s.client = nil
			s.line(firmware.LineMQTTLost, -3)
			s.status(firmware.EventMQTT, firmware.KeyState, "-3", firmware.KeyConnack, "-1")
			s.attempts = 0
			nextTry = now
		}
		if s.client == nil && now >= nextTry {
			if s.connect(ctx) {
				s.attempts = 0
				nextPub = s.env.Now()
			} else {
				s.attempts++
				nextTry = s.env.Now() + firmware.Backoff(s.attempts)
			}
			continue
		}
		sensors.sample(now, s.seq)
		if s.client != nil && now >= nextPub {
			s.publish(sensors)
			nextPub = now + time.Duration(s.cfg.PublishIntervalS)*time.Second
		}
		if s.env.Sleep(ctx, loopTick) != nil {
			return
		}
	}
}

// connect is PubSubClient.connect() over BearSSL::WiFiClientSecure (the
// ESP8266) or arduino-esp32's mbedTLS WiFiClientSecure, with what the
// sketch prints for each outcome.
func (s *sketch) connect(ctx context.Context) bool {
	host, port := s.cfg.Endpoint.Host, s.cfg.Endpoint.Port
	s.line(firmware.LineMQTTOpen, host, port, s.cfg.Thing)
	conn, err := s.dialTLS(ctx, host, port)
	if err != nil {
		code, text := s.tlsError(err)
		s.logf("TLS connect to %s:%d: %v", host, port, err)
		s.failed(-2, -1, fmt.Sprintf("%d", code), text)
		return false
	}
	start := s.env.Now()
	rc, client := s.mqttConnect(conn)
	if rc != 0 {
		state := rc
		connack := rc
		if rc < 0 {
			// No CONNACK: PubSubClient waits out its socket timeout
			// whether the broker hung up or stayed silent (§3.6).
			state, connack = -4, -1
			if s.env.Sleep(ctx, start+socketTimeout-s.env.Now()) != nil {
				return false
			}
		}
		s.failed(state, connack, "", "")
		return false
	}
	s.client = client
	s.lastTLS.connected()
	s.line(firmware.LineMQTTOK)
	s.status(firmware.EventTLS, firmware.KeyOK, "1", firmware.KeyCode, "0", firmware.KeyMFLN, "0", firmware.KeyHeap, itoa(s.heap(true)))
	s.status(firmware.EventMQTT, firmware.KeyState, "0", firmware.KeyConnack, "0")
	free := s.heap(true)
	maxBlock := free - 1400
	s.status(firmware.EventHeap, firmware.KeyFree, itoa(free), firmware.KeyMaxBlock, itoa(maxBlock), firmware.KeyFrag, itoa(100-maxBlock*100/free))
	return true
}

// failed prints a failed attempt: the copercini-style lines (§3.7) and
// the #IB lines; tlsCode is "" when TLS itself succeeded.
func (s *sketch) failed(state, connack int, tlsCode, tlsText string) {
	s.line(firmware.LineMQTTFail, state, int(firmware.Backoff(s.attempts+1)/time.Second))
	if tlsCode != "" {
		s.line(firmware.LineSSLError, tlsText)
		s.status(firmware.EventTLS, firmware.KeyOK, "0", firmware.KeyCode, tlsCode, firmware.KeyText, tlsText,
			firmware.KeyMFLN, "0", firmware.KeyHeap, itoa(s.heap(false)))
	} else {
		s.status(firmware.EventTLS, firmware.KeyOK, "1", firmware.KeyCode, "0", firmware.KeyMFLN, "0", firmware.KeyHeap, itoa(s.heap(true)))
	}
	s.status(firmware.EventMQTT, firmware.KeyState, itoa(state), firmware.KeyConnack, itoa(connack))
}

// dialTLS resolves, connects and runs the handshake as BearSSL would: TLS
// 1.2 at most (BearSSL has no 1.3), SNI = the endpoint host, ca.der as the
// only trust anchor, and the board's clock as the validation time. On the
// ESP32 family it is mbedTLS instead (tls32.go): the same, without dates.
func (s *sketch) dialTLS(ctx context.Context, host string, port int) (*tls.Conn, error) {
	resolve := s.o.Resolve
	if resolve == nil {
		resolve = localhostOnly
	}
	ip, err := resolve(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("name lookup of %s: %w: %w", host, errLookup, err)
	}
	d := net.Dialer{Timeout: minNetworkWait}
	raw, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errTCP, err)
	}
	if s.env.Chip() != "ESP8266" {
		if err := s.mbedtlsSetup(); err != nil {
			raw.Close()
			return nil, err
		}
	}
	// The client certificate goes out as stored, without crypto/tls's
	// key/certificate match check: BearSSL does not check either, and a
	// key that does not belong to the certificate must fail at the server.
	cert := tls.Certificate{Certificate: [][]byte{s.cert}, PrivateKey: s.key}
	cfg := &tls.Config{
		ServerName:             host,
		RootCAs:                s.ca,
		Certificates:           []tls.Certificate{cert},
		MinVersion:             tls.VersionTLS12,
		MaxVersion:             tls.VersionTLS12,
		Time:                   s.epoch,
		SessionTicketsDisabled: true,
	}
	if s.env.Chip() != "ESP8266" {
		// mbedTLS as arduino-esp32 builds it: TLS 1.2 (ESP-IDF leaves
		// CONFIG_MBEDTLS_SSL_PROTO_TLS1_3 off), no certificate dates.
		cfg.InsecureSkipVerify = true
		cfg.VerifyPeerCertificate = verifyWithoutDates(s.ca, host)
	}
	conn := tls.Client(raw, cfg)
	hctx, cancel := context.WithTimeout(ctx, minNetworkWait)
	defer cancel()
	if err := conn.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, err
	}
	return conn, nil
}

func localhostOnly(_ context.Context, host string) (string, error) {
	if host == "localhost" {
		return "127.0.0.1", nil
	}
	return "", &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// mqttConnect sends CONNECT over conn and waits for the CONNACK: rc is its
// return code, or -1 when none arrived.
func (s *sketch) mqttConnect(conn net.Conn) (rc int, c mqtt.Client) {
	s.lost.Store(false)
	// CONNACK and writes get real time: the board clock may run many
	// times faster than the broker on the other end of the socket.
	wait := minNetworkWait
	opts := mqtt.NewClientOptions().
		AddBroker("tcp://" + net.JoinHostPort(s.cfg.Endpoint.Host, strconv.Itoa(s.cfg.Endpoint.Port))).
		SetClientID(s.cfg.Thing).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(keepAlive).
		SetConnectTimeout(wait).
		SetWriteTimeout(wait).
		SetCustomOpenConnectionFn(func(*url.URL, mqtt.ClientOptions) (net.Conn, error) { return conn, nil }).
		SetConnectionLostHandler(func(mqtt.Client, error) { s.lost.Store(true) })
	c = mqtt.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(wait + time.Second) {
		conn.Close()
		c.Disconnect(0)
		return -1, nil
	}
	code := int(tok.(*mqtt.ConnectToken).ReturnCode())
	if tok.Error() != nil || code != 0 {
		conn.Close()
		if code == 0 || code == int(packets.ErrNetworkError) || code > 5 {
			return -1, nil
		}
		return code, nil
	}
	return 0, c
}

// publish builds the payload from the latest sensor readings and
// publishes it (QoS 0, as PubSubClient).
func (s *sketch) publish(sensors *sampler) {
	p := &firmware.Payload{Thing: s.cfg.Thing, T: s.epoch().Unix(), Seq: s.seq, RSSI: s.network.RSSI, Heap: s.heap(true)}
	p.Readings, p.Errors = sensors.readings()
	data, err := p.Marshal()
	if err != nil {
		s.logf("payload: %v", err)
		return
	}
	topic := s.cfg.Topics.Telemetry
	if n := firmware.PacketSize(topic, data); n > firmware.MQTTBufferSize {
		s.line(firmware.LinePubTooBig, n, firmware.MQTTBufferSize)
		s.status(firmware.EventPub, firmware.KeyTopic, topic, firmware.KeyBytes, itoa(len(data)), firmware.KeyOK, "0", firmware.KeySeq, strconv.FormatUint(uint64(s.seq), 10))
		return
	}
	tok := s.client.Publish(topic, 0, false, data)
	ok := tok.WaitTimeout(minNetworkWait) && tok.Error() == nil
	s.line(firmware.LinePublish, string(data))
	s.status(firmware.EventPub, firmware.KeyTopic, topic, firmware.KeyBytes, itoa(len(data)), firmware.KeyOK, bit(ok), firmware.KeySeq, strconv.FormatUint(uint64(s.seq), 10))
	s.seq++
}

func (s *sketch) disconnect() {
	if s.client != nil {
		s.client.Disconnect(0)
		s.client = nil
	}
}
