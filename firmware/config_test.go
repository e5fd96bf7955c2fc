package firmware

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the canonical config vectors (review the diff!)")

func TestConfigValidVectors(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "config", "valid", "*.json"))
	n := 0
	for _, in := range files {
		if strings.HasSuffix(in, ".canon.json") {
			continue
		}
		n++
		data, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Parse(data)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		out := c.Marshal()
		canon := strings.TrimSuffix(in, ".json") + ".canon.json"
		if *update {
			if err := os.WriteFile(canon, out, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(canon)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, want) {
			t.Errorf("%s: canonical form\n%s\nwant\n%s", in, out, want)
		}
		// The canonical form is a fixed point and parses to the same config.
		c2, err := Parse(out)
		if err != nil || !reflect.DeepEqual(c, c2) {
			t.Errorf("%s: canonical form re-parses as %+v, %v", in, c2, err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", in, err)
		}
	}
	if n < 4 {
		t.Fatalf("only %d valid vectors", n)
	}
}

// configInput is the input column of invalid.txt: inline JSON or @file.
func configInput(t testing.TB, col string) []byte {
	if name, ok := strings.CutPrefix(col, "@"); ok {
		b, err := os.ReadFile(filepath.Join("testdata", "config", "invalid", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return []byte(col)
}

func TestConfigInvalidVectors(t *testing.T) {
	for _, row := range readTSV(t, "config/invalid.txt", 3) {
		field, code := row[0], row[1]
		_, err := Parse(configInput(t, row[2]))
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%q: want %s/%s, got %v", row[2], field, code, err)
			continue
		}
		if ce.Field != field || ce.Code != code {
			t.Errorf("%q: got %s/%s (%v), want %s/%s", row[2], ce.Field, ce.Code, err, field, code)
		}
		if ce.Msg == "" || !strings.HasPrefix(err.Error(), "config.json: ") {
			t.Errorf("%q: error %q names no fix", row[2], err)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := Parse([]byte(`{"schema":1,"wifi":{"ssid":"s"},"endpoint":{"host":"h"},"thing":"Bench_01","sensors":[{"type":"analog_light","name":"l"},{"type":"dht22","name":"c","pin":4,"interval_s":5}],"ota":{"password_md5":"5f4dcc3b5aa765d61d8327deb882cf99"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Endpoint.Port != 8883 || c.PublishIntervalS != 60 || c.TLS.RxBuffer != 16384 {
		t.Errorf("defaults: %+v", c)
	}
	if c.Topics.Telemetry != TelemetryTopic("Bench_01") || c.Topics.Command != CommandTopic("Bench_01") {
		t.Errorf("topics: %+v", c.Topics)
	}
	if c.Sensors[0].Pin != DefaultAnalogPin || c.Sensors[0].IntervalS != 60 || c.Sensors[1].IntervalS != 5 {
		t.Errorf("sensors: %+v", c.Sensors)
	}
	if c.OTA == nil || c.OTA.Hostname != "bench-01" || c.OTA.Port != 8266 {
		t.Errorf("ota: %+v", c.OTA)
	}
	if c.SensorNames() != "analog_light,dht22" {
		t.Error(c.SensorNames())
	}
}

func TestDefaultOTAHostname(t *testing.T) {
	for in, want := range map[string]string{
		"bench-01": "bench-01", "Lab_Board:7": "lab-board-7", "___": "iotbench", strings.Repeat("a", 70): strings.Repeat("a", 63),
		strings.Repeat("a", 62) + "_b": strings.Repeat("a", 62),
	} {
		if got := DefaultOTAHostname(in); got != want || !isMDNSName(got) {
			t.Errorf("%q: %q want %q", in, got, want)
		}
	}
}

func TestConfigValidateBuiltInCode(t *testing.T) {
	c := &Config{Schema: 1, WiFi: WiFi{SSID: "s", Password: "secret12"}, Endpoint: Endpoint{Host: "h.example", Port: 8883},
		Thing: "t", Topics: Topics{TelemetryTopic("t"), CommandTopic("t")}, PublishIntervalS: 10,
		Sensors: []Sensor{{Type: SensorFake, Name: "f", Pin: -1, IntervalS: 10}}, TLS: TLS{RxBuffer: 16384}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.Sensors[0].Pin = 3
	var ce *ConfigError
	if err := c.Validate(); !errors.As(err, &ce) || ce.Field != "sensors[0].pin" || ce.Code != ErrUnused {
		t.Fatalf("fake sensor with a pin: %v", err)
	}
	if err := (*Config)(nil).Validate(); err == nil {
		t.Fatal("nil config validated")
	}
}

func TestConfigSecretsNotInErrors(t *testing.T) {
	// An error about a neighbouring field must not echo the password.
	_, err := Parse([]byte(`{"schema":1,"wifi":{"ssid":"s","password":"hunter2-secret"},"endpoint":{"host":"192.168.1.1"},"thing":"t"}`))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("%v", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "config", "*", "*.json"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, row := range readTSV(f, "config/invalid.txt", 3) {
		if !strings.HasPrefix(row[2], "@") {
			f.Add([]byte(row[2]))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Code == "" || ce.Msg == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		out := c.Marshal()
		c2, err := Parse(out)
		if err != nil {
			t.Fatalf("canonical form refused: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", c, c2)
		}
		if !bytes.Equal(out, c2.Marshal()) {
			t.Fatal("Marshal is not a fixed point")
		}
	})
}
