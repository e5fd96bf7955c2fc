package firmware

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The device configuration, config.json on the board's filesystem
// (device-side.md §6.3). One schema, read by the tool (Parse), written by
// the tool (Marshal), and read by the reference sketch (ib_config.cpp),
// which checks the same rules in the same order so that a file is accepted
// or refused identically on both sides (vectors: testdata/config).

// SchemaVersion is the config.json schema this package and the reference
// firmware read.
const SchemaVersion = 1

// MaxConfigSize bounds config.json (the sketch reads it into one buffer).
const MaxConfigSize = 4096

// Defaults.
const (
	DefaultPort            = 8883  // MQTT over TLS (aws-iot.md §5.2; 443 needs ALPN, which BearSSL on the ESP8266 core lacks, device-side.md §3.5)
	DefaultPublishInterval = 60    // seconds
	DefaultOTAPort         = 8266  // ArduinoOTA on the ESP8266 (device-side.md §5.1)
	DefaultRxBuffer        = 16384 // BearSSL receive buffer, the core's default (device-side.md §3.1)
	DefaultAnalogPin       = 17    // A0 is GPIO 17 in the ESP8266 core's pin numbering
	MaxSensors             = 8
	MaxIntervalS           = 86400
)

// SensorType names a sensor driver of the reference firmware.
type SensorType string

// Sensor drivers (device-side.md §6.3: the sketch compiles all of them and
// instantiates what config.json lists).
const (
	// SensorAnalogLight is a light-dependent resistor on the ADC: the raw
	// reading, 0..1023 (the seed's light sensor).
	SensorAnalogLight SensorType = "analog_light"
	// SensorAnalogTemp is an LM35-style sensor on the ADC: 10 mV per °C,
	// the ADC spanning 0..3.3 V on NodeMCU/D1 mini boards (their divider):
	// °C = raw × 3300 / 1024 / 10 (the seed's temperature sensor).
	SensorAnalogTemp SensorType = "analog_temp"
	// SensorDHT22 is a DHT22 (AM2302) on one GPIO: temperature and humidity.
	SensorDHT22 SensorType = "dht22"
	// SensorPMS5003 is a Plantower PMS5003 on a serial RX GPIO: PM1.0,
	// PM2.5 and PM10 in µg/m³.
	SensorPMS5003 SensorType = "pms5003"
	// SensorFake produces a deterministic series from the publish counter
	// (FakeReading), for bench tests without hardware.
	SensorFake SensorType = "fake"
	// SensorNone is a placeholder that reads nothing.
	SensorNone SensorType = "none"
)

// SensorTypes lists the types in the order the docs present them.
var SensorTypes = []SensorType{SensorAnalogLight, SensorAnalogTemp, SensorDHT22, SensorPMS5003, SensorFake, SensorNone}

// Config is a parsed, validated config.json with defaults filled in.
type Config struct {
	Schema   int
	WiFi     WiFi
	Endpoint Endpoint
	// Thing is the AWS IoT thing name, also the MQTT client ID (which must
	// be unique per account and region, device-side.md §3.5).
	Thing            string
	Topics           Topics
	PublishIntervalS int
	Sensors          []Sensor
	// OTA is nil when ArduinoOTA is off.
	OTA *OTA
	TLS TLS
}

// WiFi is the station configuration. The password is a secret: never log it.
type WiFi struct {
	SSID     string
	Password string
}

// Endpoint is the MQTT broker: the AWS IoT ATS data endpoint or a local cloud.
type Endpoint struct {
	Host string
	Port int
}

// Topics the board publishes to and subscribes to.
type Topics struct {
	Telemetry string
	Command   string
}

// Sensor is one entry of the sensors list.
type Sensor struct {
	Type SensorType
	// Name keys the sensor's readings in the payload.
	Name string
	// Pin is the GPIO (-1 for types that use none).
	Pin int
	// IntervalS is how often the sensor is read.
	IntervalS int
}

// OTA configures ArduinoOTA (device-side.md §5).
type OTA struct {
	Hostname string
	Port     int
	// PasswordMD5 is md5_hex(password), lower-case: ArduinoOTA's
	// setPasswordHash compares it as text (device-side.md §5.2).
	PasswordMD5 string
}

// TLS tunes BearSSL.
type TLS struct {
	// RxBuffer is setBufferSizes' receive size: 16384, or 512/1024/2048/4096
	// when the server negotiates max fragment length (device-side.md §3.1).
	RxBuffer int
}

// Config error codes. The vectors and the sketch use the same codes.
const (
	ErrJSON      = "json"      // not strict JSON (Field is "")
	ErrSize      = "size"      // file larger than MaxConfigSize (Field is "")
	ErrSchema    = "schema"    // schema version this firmware does not read
	ErrRequired  = "required"  // a required field is missing
	ErrType      = "type"      // wrong JSON type
	ErrUnknown   = "unknown"   // a key the schema does not have (typo?)
	ErrRange     = "range"     // a number that is not a whole number in range
	ErrLength    = "length"    // string or list length out of bounds
	ErrChars     = "chars"     // characters that are not allowed
	ErrFormat    = "format"    // wrong syntax (host name, topic, hash)
	ErrIP        = "ip"        // an IP address where a host name is needed
	ErrCase      = "case"      // upper-case hex where lower case is needed
	ErrDuplicate = "duplicate" // a sensor name used twice
	ErrUnused    = "unused"    // a field this sensor type does not take
	// ErrMemory is the board's alone: strict JSON that ArduinoJson could
	// not fit in the heap (Field is ""). ParseConfig never returns it.
	ErrMemory = "memory"
)

// ConfigError is a config.json the firmware would refuse.
type ConfigError struct {
	Field string // "wifi.ssid", "sensors[1].pin"; "" for the whole file
	Code  string // one of the Err* codes
	Msg   string // what is wrong and how to fix it
}

func (e *ConfigError) Error() string {
	if e.Field == "" {
		return "config.json: " + e.Msg
	}
	return "config.json: " + e.Field + ": " + e.Msg
}

func cfgErr(field, code, format string, a ...any) *ConfigError {
	return &ConfigError{Field: field, Code: code, Msg: fmt.Sprintf(format, a...)}
}

// Parse reads config.json strictly: strict JSON, known keys only, every
// value checked, defaults filled in. The error is a *ConfigError naming the
// field, with the fix.
func Parse(data []byte) (*Config, error) {
	if len(data) > MaxConfigSize {
		return nil, cfgErr("", ErrSize, "%d bytes, more than the %d the firmware reads: remove what the schema does not need", len(data), MaxConfigSize)
	}
	root, err := parseJSON(data)
	if err != nil {
		return nil, cfgErr("", ErrJSON, "not valid JSON: %v", err)
	}
	d := decoder{}
	c := d.config(root)
	if d.err != nil {
		return nil, d.err
	}
	return c, nil
}

// decoder walks the parsed file; the first problem wins (same order as
// the sketch: for each object its unknown keys in file order, then the
// schema's fields in the order below).
type decoder struct{ err *ConfigError }

func (d *decoder) fail(field, code, format string, a ...any) {
	if d.err == nil {
		d.err = cfgErr(field, code, format, a...)
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// object checks v is an object with no keys outside allowed.
func (d *decoder) object(v *jsonValue, path string, allowed ...string) bool {
	if d.err != nil {
		return false
	}
	if v.kind != jsonObject {
		d.fail(path, ErrType, "must be an object ({...}), not %s", v.kind)
		return false
	}
	for _, m := range v.members {
		known := false
		for _, a := range allowed {
			known = known || m.key == a
		}
		if !known {
			d.fail(join(path, m.key), ErrUnknown, "unknown key: the schema has %s here (check the spelling)", strings.Join(allowed, ", "))
			return false
		}
	}
	return true
}

// str returns the string at key; present is false when absent (and not
// required) or on error.
func (d *decoder) str(obj *jsonValue, path, key string, required bool, minLen, maxLen int) (s string, present bool) {
	if d.err != nil {
		return "", false
	}
	f := join(path, key)
	v := obj.get(key)
	if v == nil {
		if required {
			d.fail(f, ErrRequired, "missing: add \"%s\": \"...\"", key)
		}
		return "", false
	}
	if v.kind != jsonString {
		d.fail(f, ErrType, "must be a string in double quotes, not %s", v.kind)
		return "", false
	}
	for i := 0; i < len(v.str); i++ {
		if c := v.str[i]; c < 0x20 || c == 0x7f {
			d.fail(f, ErrChars, "contains a control character (byte 0x%02x): remove it", c)
			return "", false
		}
	}
	if len(v.str) < minLen || len(v.str) > maxLen {
		d.fail(f, ErrLength, "is %d bytes long: use %d to %d", len(v.str), minLen, maxLen)
		return "", false
	}
	return v.str, true
}

// integer returns the whole number at key within [lo, hi], or def when absent.
func (d *decoder) integer(obj *jsonValue, path, key string, required bool, def, lo, hi int) int {
	if d.err != nil {
		return def
	}
	f := join(path, key)
	v := obj.get(key)
	if v == nil {
		if required {
			d.fail(f, ErrRequired, "missing: add \"%s\": <number>", key)
		}
		return def
	}
	if v.kind != jsonNumber {
		d.fail(f, ErrType, "must be a number without quotes, not %s", v.kind)
		return def
	}
	n, err := strconv.ParseInt(v.num, 10, 64)
	if !v.isInteger() || err != nil || n < int64(lo) || n > int64(hi) {
		d.fail(f, ErrRange, "is %s: use a whole number from %d to %d", v.num, lo, hi)
		return def
	}
	return int(n)
}

func (d *decoder) config(root *jsonValue) *Config {
	c := &Config{}
	if root.kind != jsonObject {
		d.fail("", ErrType, "the file must hold one JSON object ({...}), not %s", root.kind)
		return nil
	}
	// The version first: a newer file's new keys are a version problem.
	c.Schema = d.integer(root, "", "schema", true, 0, 0, 1<<30)
	if d.err == nil && c.Schema != SchemaVersion {
		d.fail("schema", ErrSchema, "is %d but this firmware reads schema %d: update the firmware or write the file for schema %d", c.Schema, SchemaVersion, SchemaVersion)
	}
	if !d.object(root, "", "schema", "wifi", "endpoint", "thing", "topics", "publish_interval_s", "sensors", "ota", "tls") {
		return nil
	}
	c.WiFi = d.wifi(root)
	c.Endpoint = d.endpoint(root)
	c.Thing = d.thing(root)
	c.Topics = d.topics(root, c.Thing)
	c.PublishIntervalS = d.integer(root, "", "publish_interval_s", false, DefaultPublishInterval, 1, MaxIntervalS)
	c.Sensors = d.sensors(root, c.PublishIntervalS)
	c.OTA = d.ota(root, c.Thing)
	c.TLS = d.tls(root)
	if d.err != nil {
		return nil
	}
	return c
}

func (d *decoder) member(root *jsonValue, key string, required bool) *jsonValue {
	if d.err != nil {
		return nil
	}
	v := root.get(key)
	if v == nil && required {
		d.fail(key, ErrRequired, "missing: add \"%s\": {...}", key)
	}
	return v
}

func (d *decoder) wifi(root *jsonValue) WiFi {
	var w WiFi
	v := d.member(root, "wifi", true)
	if v == nil || !d.object(v, "wifi", "ssid", "password") {
		return w
	}
	w.SSID, _ = d.str(v, "wifi", "ssid", true, 1, 32)
	w.Password, _ = d.str(v, "wifi", "password", false, 0, 64)
	if d.err == nil {
		switch n := len(w.Password); {
		case n > 0 && n < 8:
			d.fail("wifi.password", ErrLength, "is %d characters: WPA2 passphrases have 8 to 63 (use \"\" for an open network)", n)
		case n == 64 && !isHex(w.Password):
			d.fail("wifi.password", ErrFormat, "64 characters must be a hex PSK; a passphrase has at most 63")
		}
	}
	return w
}

func (d *decoder) endpoint(root *jsonValue) Endpoint {
	e := Endpoint{Port: DefaultPort}
	v := d.member(root, "endpoint", true)
	if v == nil || !d.object(v, "endpoint", "host", "port") {
		return e
	}
	e.Host, _ = d.str(v, "endpoint", "host", true, 1, 253)
	if d.err == nil {
		if looksLikeIP(e.Host) {
			d.fail("endpoint.host", ErrIP, "is an IP address: use the endpoint's host name (the server certificate names it, BearSSL checks it, and AWS IoT needs it in SNI; device-side.md §3.5)")
		} else if !isHostName(e.Host) {
			d.fail("endpoint.host", ErrFormat, "%q is not a host name: letters, digits, '-' and '.', like abc123-ats.iot.eu-west-1.amazonaws.com", e.Host)
		}
	}
	e.Port = d.integer(v, "endpoint", "port", false, DefaultPort, 1, 65535)
	return e
}

func (d *decoder) thing(root *jsonValue) string {
	t, ok := d.str(root, "", "thing", true, 1, 128)
	if ok && !isThingName(t) {
		d.fail("thing", ErrChars, "%q: AWS IoT thing names (also the MQTT client ID and the topic's second level) use only letters, digits, ':', '_' and '-'", t)
	}
	return t
}

func (d *decoder) topics(root *jsonValue, thing string) Topics {
	t := Topics{Telemetry: TelemetryTopic(thing), Command: CommandTopic(thing)}
	v := d.member(root, "topics", false)
	if v == nil || !d.object(v, "topics", "telemetry", "command") {
		return t
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"telemetry", &t.Telemetry}, {"command", &t.Command}} {
		s, ok := d.str(v, "topics", f.key, false, 1, 256)
		if !ok {
			continue
		}
		if msg := topicProblem(s); msg != "" {
			d.fail("topics."+f.key, ErrFormat, "%s", msg)
		}
		*f.dst = s
	}
	return t
}

// topicProblem checks an MQTT topic name against MQTT 3.1.1 and the AWS IoT
// limits (aws-iot.md §5.5: at most 7 slashes; §5.6: '$' topics are reserved).
func topicProblem(s string) string {
	switch {
	case strings.ContainsAny(s, "+#"):
		return "a topic to publish to cannot hold the wildcards + or #"
	case strings.HasPrefix(s, "$"):
		return "topics starting with $ are reserved by the broker"
	case strings.Count(s, "/") > 7:
		return "AWS IoT allows at most 7 '/' in a topic"
	}
	return ""
}

func (d *decoder) sensors(root *jsonValue, interval int) []Sensor {
	out := []Sensor{}
	v := d.member(root, "sensors", false)
	if v == nil || d.err != nil {
		return out
	}
	if v.kind != jsonArray {
		d.fail("sensors", ErrType, "must be a list ([...]), not %s", v.kind)
		return out
	}
	if len(v.arr) > MaxSensors {
		d.fail("sensors", ErrLength, "lists %d sensors: the firmware takes at most %d", len(v.arr), MaxSensors)
		return out
	}
	for i, e := range v.arr {
		s := d.sensor(e, fmt.Sprintf("sensors[%d]", i), interval)
		if d.err != nil {
			return out
		}
		for j := range out {
			if s.Name != "" && out[j].Name == s.Name {
				d.fail(fmt.Sprintf("sensors[%d].name", i), ErrDuplicate, "%q is already the name of sensors[%d]: readings are keyed by name, so names must differ", s.Name, j)
				return out
			}
		}
		out = append(out, s)
	}
	return out
}

func (d *decoder) sensor(v *jsonValue, path string, interval int) Sensor {
	s := Sensor{Pin: -1, IntervalS: interval}
	if !d.object(v, path, "type", "name", "pin", "interval_s") {
		return s
	}
	typ, ok := d.str(v, path, "type", true, 1, 16)
	if !ok {
		return s
	}
	s.Type = SensorType(typ)
	known := false
	for _, t := range SensorTypes {
		known = known || t == s.Type
	}
	if !known {
		names := make([]string, len(SensorTypes))
		for i, t := range SensorTypes {
			names[i] = string(t)
		}
		d.fail(path+".type", ErrFormat, "%q is not a sensor type: use one of %s", typ, strings.Join(names, ", "))
		return s
	}
	if s.Type == SensorNone {
		for _, k := range []string{"name", "pin", "interval_s"} {
			if v.get(k) != nil {
				d.fail(join(path, k), ErrUnused, "a sensor of type none takes only \"type\": remove %q", k)
				return s
			}
		}
		s.IntervalS = 0
		return s
	}
	if name, ok := d.str(v, path, "name", true, 1, 24); ok {
		if !isSensorName(name) {
			d.fail(path+".name", ErrChars, "%q: use lower-case letters, digits and '_', starting with a letter (it becomes a payload key and a series name)", name)
		}
		s.Name = name
	}
	switch s.Type {
	case SensorFake:
		if v.get("pin") != nil {
			d.fail(path+".pin", ErrUnused, "a fake sensor has no pin: remove \"pin\"")
		}
	case SensorAnalogLight, SensorAnalogTemp:
		s.Pin = d.integer(v, path, "pin", false, DefaultAnalogPin, 0, 39)
	default:
		s.Pin = d.integer(v, path, "pin", true, -1, 0, 39)
	}
	s.IntervalS = d.integer(v, path, "interval_s", false, interval, 1, MaxIntervalS)
	return s
}

func (d *decoder) ota(root *jsonValue, thing string) *OTA {
	v := d.member(root, "ota", false)
	if v == nil || !d.object(v, "ota", "hostname", "port", "password_md5") {
		return nil
	}
	o := &OTA{Hostname: DefaultOTAHostname(thing)}
	if h, ok := d.str(v, "ota", "hostname", false, 1, 63); ok {
		if !isMDNSName(h) {
			d.fail("ota.hostname", ErrChars, "%q: mDNS host names use lower-case letters, digits and '-' (not at either end)", h)
		}
		o.Hostname = h
	}
	o.Port = d.integer(v, "ota", "port", false, DefaultOTAPort, 1, 65535)
	if p, ok := d.str(v, "ota", "password_md5", true, 0, 64); ok {
		switch {
		case len(p) == 32 && isHex(p) && strings.ToLower(p) != p:
			d.fail("ota.password_md5", ErrCase, "has upper-case hex: ArduinoOTA compares the hash as text, so write it in lower case (device-side.md §5.2)")
		case len(p) != 32 || !isHex(p):
			d.fail("ota.password_md5", ErrFormat, "must be the 32 lower-case hex digits of md5(password), e.g. from: printf %%s 'password' | md5sum")
		}
		o.PasswordMD5 = p
	}
	return o
}

func (d *decoder) tls(root *jsonValue) TLS {
	t := TLS{RxBuffer: DefaultRxBuffer}
	v := d.member(root, "tls", false)
	if v == nil || !d.object(v, "tls", "rx_buffer") {
		return t
	}
	t.RxBuffer = d.integer(v, "tls", "rx_buffer", false, DefaultRxBuffer, 512, 16384)
	if d.err == nil {
		switch t.RxBuffer {
		case 512, 1024, 2048, 4096, 16384:
		default:
			d.fail("tls.rx_buffer", ErrRange, "is %d: use 16384, or 512, 1024, 2048 or 4096 (the max-fragment-length sizes BearSSL can negotiate)", t.RxBuffer)
		}
	}
	return t
}

// DefaultOTAHostname derives an mDNS host name from a thing name: lower
// case, other characters as '-', at most 63 characters.
func DefaultOTAHostname(thing string) string {
	b := []byte(strings.ToLower(thing))
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			b[i] = '-'
		}
	}
	h := strings.Trim(string(b), "-")
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-")
	}
	if h == "" {
		h = "iotbench"
	}
	return h
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return s != ""
}

func isThingName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != ':' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func isSensorName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

func isMDNSName(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// looksLikeIP: an IPv6 literal (a ':' and nothing but hex digits, ':' and
// '.', optionally in brackets), or dotted labels that are all digits (what
// lwIP's inet_aton would take as an address). The sketch uses the same rule.
func looksLikeIP(s string) bool {
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	if strings.Contains(s, ":") {
		for i := 0; i < len(s); i++ {
			if c := s[i]; !isHex(string(c)) && c != ':' && c != '.' {
				return false
			}
		}
		return true
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" {
			return false
		}
		for i := 0; i < len(l); i++ {
			if l[i] < '0' || l[i] > '9' {
				return false
			}
		}
	}
	return true
}

func isHostName(s string) bool {
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if !isAlnum(l[i]) && l[i] != '-' {
				return false
			}
		}
	}
	return true
}

// Validate checks a Config built in code (not read by Parse) against the
// same rules, by writing and re-reading it.
func (c *Config) Validate() error {
	if c == nil {
		return errors.New("config.json: no configuration")
	}
	_, err := Parse(c.Marshal())
	return err
}

// Marshal writes the canonical config.json: every field with its default
// filled in, keys in schema order, two-space indentation, a final newline.
// The sketch's host tests produce the same bytes from the same input.
func (c *Config) Marshal() []byte {
	w := &jsonWriter{}
	w.open('{')
	w.key("schema").num(int64(c.Schema))
	w.key("wifi").open('{')
	w.key("ssid").str(c.WiFi.SSID)
	w.key("password").str(c.WiFi.Password)
	w.close('}')
	w.key("endpoint").open('{')
	w.key("host").str(c.Endpoint.Host)
	w.key("port").num(int64(c.Endpoint.Port))
	w.close('}')
	w.key("thing").str(c.Thing)
	w.key("topics").open('{')
	w.key("telemetry").str(c.Topics.Telemetry)
	w.key("command").str(c.Topics.Command)
	w.close('}')
	w.key("publish_interval_s").num(int64(c.PublishIntervalS))
	w.key("sensors").open('[')
	for _, s := range c.Sensors {
		w.item().open('{')
		w.key("type").str(string(s.Type))
		if s.Type != SensorNone {
			w.key("name").str(s.Name)
			if s.Pin >= 0 {
				w.key("pin").num(int64(s.Pin))
			}
			w.key("interval_s").num(int64(s.IntervalS))
		}
		w.close('}')
	}
	w.close(']')
	if c.OTA != nil {
		w.key("ota").open('{')
		w.key("hostname").str(c.OTA.Hostname)
		w.key("port").num(int64(c.OTA.Port))
		w.key("password_md5").str(c.OTA.PasswordMD5)
		w.close('}')
	}
	w.key("tls").open('{')
	w.key("rx_buffer").num(int64(c.TLS.RxBuffer))
	w.close('}')
	w.close('}')
	w.b = append(w.b, '\n')
	return w.b
}

// SensorNames lists the configured sensor types, comma-separated, as the
// cfg status line prints them.
func (c *Config) SensorNames() string {
	var t []string
	for _, s := range c.Sensors {
		t = append(t, string(s.Type))
	}
	return strings.Join(t, ",")
}

// jsonWriter writes indented JSON: the canonical config layout.
type jsonWriter struct {
	b     []byte
	depth int
	empty bool // the innermost container has no element yet
}

func (w *jsonWriter) newline() {
	w.b = append(w.b, '\n')
	for i := 0; i < w.depth; i++ {
		w.b = append(w.b, ' ', ' ')
	}
}

// item starts an element of the current container.
func (w *jsonWriter) item() *jsonWriter {
	if !w.empty {
		w.b = append(w.b, ',')
	}
	w.empty = false
	w.newline()
	return w
}

func (w *jsonWriter) key(k string) *jsonWriter {
	w.item()
	w.b = appendJSONString(w.b, k)
	w.b = append(w.b, ':', ' ')
	return w
}

func (w *jsonWriter) open(c byte) *jsonWriter {
	w.b = append(w.b, c)
	w.depth++
	w.empty = true
	return w
}

func (w *jsonWriter) close(c byte) {
	w.depth--
	if !w.empty {
		w.newline()
	}
	w.empty = false
	w.b = append(w.b, c)
}

func (w *jsonWriter) str(s string) { w.b = appendJSONString(w.b, s) }

func (w *jsonWriter) num(n int64) { w.b = strconv.AppendInt(w.b, n, 10) }
