package firmware

import (
	"bytes"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestFormatReadingVectors(t *testing.T) {
	for _, row := range readTSV(t, "payload/numbers.txt", 2) {
		v, err := strconv.ParseFloat(row[0], 64)
		if err != nil {
			t.Fatalf("%q: %v", row[0], err)
		}
		got, ok := FormatReading(v)
		if !ok {
			got = "!"
		}
		if got != row[1] {
			t.Errorf("FormatReading(%s) = %s, want %s", row[0], got, row[1])
		}
	}
}

// payloadFromRow builds the Payload a vector row describes (see
// testdata/payload/README.md).
func payloadFromRow(t testing.TB, row []string) *Payload {
	num := func(s string) int64 {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		return n
	}
	p := &Payload{Thing: row[0], T: num(row[1]), Seq: uint32(num(row[2])), RSSI: int(num(row[3])), Heap: int(num(row[4]))}
	if row[5] != "" {
		for _, r := range strings.Split(row[5], ";") {
			name, val, _ := strings.Cut(r, "=")
			v, err := strconv.ParseFloat(val, 64)
			if err != nil {
				t.Fatalf("%q: %v", r, err)
			}
			sensor, qty, _ := strings.Cut(name, ".")
			p.Readings = append(p.Readings, Reading{Sensor: sensor, Quantity: qty, Value: v})
		}
	}
	if row[6] != "" {
		p.Errors = strings.Split(row[6], ",")
	}
	return p
}

func TestPayloadVectors(t *testing.T) {
	for _, row := range readTSV(t, "payload/vectors.txt", 8) {
		p := payloadFromRow(t, row)
		b, err := p.Marshal()
		if row[7] == "!" {
			if err == nil {
				t.Errorf("%q: want refusal, got %s", row, b)
			}
			continue
		}
		if err != nil || string(b) != row[7] {
			t.Errorf("%q:\n got %s %v\nwant %s", row[:7], b, err, row[7])
			continue
		}
		back, err := ParsePayload(b)
		if err != nil {
			t.Errorf("%s: %v", b, err)
			continue
		}
		again, _ := back.Marshal()
		if !bytes.Equal(again, b) {
			t.Errorf("parse+marshal: %s, want %s", again, b)
		}
	}
}

func TestParsePayloadErrors(t *testing.T) {
	for _, in := range []string{
		``, `[]`, `{"thing":"x"}`, `{"thing":"x","t":1,"seq":1,"readings":{},"rssi":0,"heap":0,"extra":1}`,
		`{"thing":"x","t":1.5,"seq":1,"readings":{},"rssi":0,"heap":0}`,
		`{"thing":"x","t":1,"seq":-1,"readings":{},"rssi":0,"heap":0}`,
		`{"thing":"x","t":1,"seq":1,"readings":{"a":"1"},"rssi":0,"heap":0}`,
		`{"thing":"x","t":1,"seq":1,"readings":{"a":{}},"rssi":0,"heap":0}`,
		`{"thing":"x","t":1,"seq":1,"readings":{"a":1e999},"rssi":0,"heap":0}`,
		`{"thing":"x","t":1,"seq":1,"readings":{},"rssi":0,"heap":0,"errors":[1]}`,
		`{"thing":"a b","t":1,"seq":1,"readings":{},"rssi":0,"heap":0}`,
	} {
		if p, err := ParsePayload([]byte(in)); err == nil {
			t.Errorf("%s: accepted as %+v", in, p)
		} else if !strings.HasPrefix(err.Error(), "telemetry payload: ") {
			t.Errorf("%s: %v", in, err)
		}
	}
}

func TestPayloadSamples(t *testing.T) {
	p, err := ParsePayload([]byte(`{"thing":"b","t":9,"seq":3,"readings":{"light":512,"air":{"pm2_5":5}},"rssi":-61,"heap":100}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Sample{{"seq", 3}, {"readings.light", 512}, {"readings.air.pm2_5", 5}, {"rssi", -61}, {"heap", 100}}
	if got := p.Samples(); !reflect.DeepEqual(got, want) {
		t.Fatalf("%+v", got)
	}
}

func TestSensorHelpers(t *testing.T) {
	if Quantities(SensorDHT22)[1] != "humidity" || Quantities(SensorFake) != nil {
		t.Fatal("quantities")
	}
	if v, _ := FormatReading(AnalogTempC(67)); v != "21.59" {
		t.Fatalf("LM35 67 counts = %s °C", v)
	}
	if FakeReading(0) != 20 || FakeReading(21) != 20.25 || FakeReading(19) != 24.75 {
		t.Fatal("fake sawtooth")
	}
	if PacketSize("iotbench/t/telemetry", make([]byte, 100)) != 127 {
		t.Fatal("packet size")
	}
}

func FuzzParsePayload(f *testing.F) {
	for _, row := range readTSV(f, "payload/vectors.txt", 8) {
		f.Add([]byte(row[7]))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePayload(data)
		if err != nil {
			return
		}
		for _, r := range p.Readings {
			if math.IsNaN(r.Value) {
				t.Fatal("NaN reading")
			}
		}
		b, err := p.Marshal()
		if err != nil {
			return // readings beyond two decimals' range are refused on output
		}
		p2, err := ParsePayload(b)
		if err != nil {
			t.Fatalf("own output refused: %v\n%s", err, b)
		}
		b2, _ := p2.Marshal()
		if !bytes.Equal(b, b2) {
			t.Fatalf("not a fixed point:\n%s\n%s", b, b2)
		}
	})
}
