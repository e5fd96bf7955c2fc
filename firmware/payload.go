package firmware

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// The telemetry payload the reference firmware publishes on
// TelemetryTopic(thing), one JSON object per message, compact, keys in
// this order:
//
//	{"thing":"bench-01","t":1732184142,"seq":7,
//	 "readings":{"light":512,"air":{"pm1_0":3,"pm2_5":5,"pm10":7}},
//	 "rssi":-61,"heap":23456,"errors":["t1"]}
//
//   - thing: the thing name (also topic(2); the IoT rule takes the device
//     name from the topic, aws-iot.md §6.2, so this is for readers only).
//   - t: the board's clock, Unix seconds. Not "ts": the DynamoDB rule
//     `SELECT *, topic(2) AS device, timestamp() AS ts` adds its own ts
//     (milliseconds, the sort key), and a payload ts would clash with it.
//   - seq: publish counter since boot (tells restarts and gaps apart).
//   - readings: one member per sensor, by its configured name: a number for
//     single-valued sensors, an object of numbers for the others. Numbers
//     have at most two decimals (FormatReading), so every numeric leaf
//     flattens to a series "readings.<name>[.<quantity>]".
//   - rssi, heap: Wi-Fi signal (dBm) and free heap (bytes).
//   - errors: only when some sensor failed this time; its names. A failed
//     sensor has no entry in readings (JSON has no NaN).
//
// No key is a DynamoDB reserved word (aws-iot.md §6.1), and none is device
// or ts, which the rule adds.

// Quantities of multi-valued sensors, in payload order.
var sensorQuantities = map[SensorType][]string{
	SensorDHT22:   {"temperature", "humidity"},
	SensorPMS5003: {"pm1_0", "pm2_5", "pm10"},
}

// Quantities returns the quantity names a sensor type reports (nil for a
// single-valued sensor, whose reading is a bare number).
func Quantities(t SensorType) []string { return sensorQuantities[t] }

// MQTTBufferSize is the reference firmware's PubSubClient buffer
// (setBufferSize): a publish must fit PacketSize into it (device-side.md §3.6).
const MQTTBufferSize = 1024

// PacketSize is the PubSubClient buffer a publish needs: 5 header bytes,
// the 2-byte topic length, the topic and the payload (device-side.md §3.6).
func PacketSize(topic string, payload []byte) int { return 5 + 2 + len(topic) + len(payload) }

// Payload is one telemetry message.
type Payload struct {
	Thing    string
	T        int64 // Unix seconds, the board's clock
	Seq      uint32
	Readings []Reading
	RSSI     int
	Heap     int
	Errors   []string
}

// Reading is one number of a payload.
type Reading struct {
	Sensor   string  // configured sensor name
	Quantity string  // "" for a single-valued sensor
	Value    float64 // at most two decimals once formatted
}

// maxReading bounds a reading so its cents fit an int64 with room to spare.
const maxReading = 1e12

// FormatReading writes v rounded half away from zero to two decimals,
// without trailing zeros ("21.5", "512", "-0.05"; 0 for -0.004). The
// sketch computes the same from llround(v * 100). ok is false for NaN,
// infinities and magnitudes from 1e12 on.
func FormatReading(v float64) (string, bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) >= maxReading {
		return "", false
	}
	cents := int64(math.Round(v * 100))
	neg := cents < 0
	if neg {
		cents = -cents
	}
	s := strconv.FormatInt(cents/100, 10)
	if f := cents % 100; f != 0 {
		s += "." + string(rune('0'+f/10))
		if f%10 != 0 {
			s += string(rune('0' + f%10))
		}
	}
	if neg {
		s = "-" + s
	}
	return s, true
}

// AnalogTempC converts an ADC reading of an LM35-style sensor to °C (see
// SensorAnalogTemp); the sketch uses the same expression.
func AnalogTempC(raw int) float64 { return float64(raw) * 3300 / 1024 / 10 }

// FakeReading is the fake sensor's value at publish seq: a sawtooth from
// 20 to 24.75 in steps of 0.25, so a bench run shows a moving series.
func FakeReading(seq uint32) float64 { return 20 + float64(seq%20)*0.25 }

// Marshal writes the payload (layout above). A reading that cannot be
// written (NaN, infinite, too large) is an error: callers move such
// sensors to Errors.
func (p *Payload) Marshal() ([]byte, error) {
	if !isThingName(p.Thing) || p.Thing == "" {
		return nil, fmt.Errorf("payload: thing %q is not a thing name", p.Thing)
	}
	b := []byte(`{"thing":`)
	b = appendJSONString(b, p.Thing)
	b = append(b, `,"t":`...)
	b = strconv.AppendInt(b, p.T, 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, uint64(p.Seq), 10)
	b = append(b, `,"readings":{`...)
	seen := map[string]bool{}
	for i := 0; i < len(p.Readings); {
		r := p.Readings[i]
		if !isSensorName(r.Sensor) {
			return nil, fmt.Errorf("payload: sensor name %q is not a sensor name", r.Sensor)
		}
		if seen[r.Sensor] {
			return nil, fmt.Errorf("payload: readings of sensor %s are not together (or the name is used twice)", r.Sensor)
		}
		seen[r.Sensor] = true
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, r.Sensor)
		b = append(b, ':')
		if r.Quantity == "" {
			v, ok := FormatReading(r.Value)
			if !ok {
				return nil, fmt.Errorf("payload: reading %s = %v cannot be written: report the sensor in Errors", r.Sensor, r.Value)
			}
			b = append(b, v...)
			i++
			continue
		}
		b = append(b, '{')
		first := i
		for j := i; j < len(p.Readings) && p.Readings[j].Sensor == r.Sensor; j++ {
			q := p.Readings[j]
			if q.Quantity == "" || !isSensorName(q.Quantity) {
				return nil, fmt.Errorf("payload: sensor %s mixes a bare reading with quantities", r.Sensor)
			}
			v, ok := FormatReading(q.Value)
			if !ok {
				return nil, fmt.Errorf("payload: reading %s.%s = %v cannot be written: report the sensor in Errors", q.Sensor, q.Quantity, q.Value)
			}
			if j > first {
				b = append(b, ',')
			}
			b = appendJSONString(b, q.Quantity)
			b = append(b, ':')
			b = append(b, v...)
			i = j + 1
		}
		b = append(b, '}')
	}
	b = append(b, `},"rssi":`...)
	b = strconv.AppendInt(b, int64(p.RSSI), 10)
	b = append(b, `,"heap":`...)
	b = strconv.AppendInt(b, int64(p.Heap), 10)
	if len(p.Errors) > 0 {
		b = append(b, `,"errors":[`...)
		for i, e := range p.Errors {
			// ParsePayload takes only sensor names here; writing anything
			// else would publish what our own reader refuses.
			if !isSensorName(e) {
				return nil, fmt.Errorf("payload: error entry %q is not a sensor name", e)
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, e)
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// PayloadError is a payload that does not follow the schema.
type PayloadError struct{ Msg string }

func (e *PayloadError) Error() string { return "telemetry payload: " + e.Msg }

func payloadErr(format string, a ...any) error {
	return &PayloadError{fmt.Sprintf(format, a...)}
}

// ParsePayload reads a telemetry message strictly: the keys above and no
// others, each of its type.
func ParsePayload(data []byte) (*Payload, error) {
	root, err := parseJSON(data)
	if err != nil {
		return nil, payloadErr("not valid JSON: %v", err)
	}
	if root.kind != jsonObject {
		return nil, payloadErr("must be a JSON object, not %s", root.kind)
	}
	p := &Payload{}
	seen := map[string]bool{}
	for _, m := range root.members {
		seen[m.key] = true
		v := m.val
		switch m.key {
		case "thing":
			if v.kind != jsonString || !isThingName(v.str) || v.str == "" {
				return nil, payloadErr("thing must be a thing name string")
			}
			p.Thing = v.str
		case "t", "seq", "rssi", "heap":
			n, err := payloadInt(m.key, v)
			if err != nil {
				return nil, err
			}
			switch m.key {
			case "t":
				p.T = n
			case "seq":
				if n < 0 || n > math.MaxUint32 {
					return nil, payloadErr("seq %d is outside 0..%d", n, uint32(math.MaxUint32))
				}
				p.Seq = uint32(n)
			case "rssi":
				p.RSSI = int(n)
			case "heap":
				p.Heap = int(n)
			}
		case "readings":
			if v.kind != jsonObject {
				return nil, payloadErr("readings must be an object, not %s", v.kind)
			}
			for _, s := range v.members {
				if !isSensorName(s.key) {
					return nil, payloadErr("readings key %q is not a sensor name", s.key)
				}
				if s.val.kind == jsonObject {
					if len(s.val.members) == 0 {
						return nil, payloadErr("readings.%s is an empty object", s.key)
					}
					for _, q := range s.val.members {
						f, err := payloadNumber(s.key+"."+q.key, q.val)
						if err != nil {
							return nil, err
						}
						p.Readings = append(p.Readings, Reading{Sensor: s.key, Quantity: q.key, Value: f})
					}
					continue
				}
				f, err := payloadNumber(s.key, s.val)
				if err != nil {
					return nil, err
				}
				p.Readings = append(p.Readings, Reading{Sensor: s.key, Value: f})
			}
		case "errors":
			if v.kind != jsonArray {
				return nil, payloadErr("errors must be a list of sensor names")
			}
			for _, e := range v.arr {
				if e.kind != jsonString || !isSensorName(e.str) {
					return nil, payloadErr("errors must be a list of sensor names")
				}
				p.Errors = append(p.Errors, e.str)
			}
		default:
			return nil, payloadErr("unknown key %q", m.key)
		}
	}
	for _, k := range []string{"thing", "t", "seq", "readings", "rssi", "heap"} {
		if !seen[k] {
			return nil, payloadErr("missing %q", k)
		}
	}
	return p, nil
}

func payloadInt(key string, v *jsonValue) (int64, error) {
	if v.kind != jsonNumber || !v.isInteger() {
		return 0, payloadErr("%s must be a whole number", key)
	}
	n, err := strconv.ParseInt(v.num, 10, 64)
	if err != nil {
		return 0, payloadErr("%s: %v", key, errors.Unwrap(err))
	}
	return n, nil
}

func payloadNumber(name string, v *jsonValue) (float64, error) {
	if v.kind != jsonNumber {
		return 0, payloadErr("readings.%s must be a number, not %s", name, v.kind)
	}
	f, err := strconv.ParseFloat(v.num, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, payloadErr("readings.%s: %s is out of range", name, v.num)
	}
	return f, nil
}

// Sample is one numeric series point of a payload.
type Sample struct {
	Name  string // "readings.light", "readings.air.pm2_5", "rssi", "heap", "seq"
	Value float64
}

// Samples flattens the numeric fields into series, in payload order.
func (p *Payload) Samples() []Sample {
	out := []Sample{{"seq", float64(p.Seq)}}
	for _, r := range p.Readings {
		n := "readings." + r.Sensor
		if r.Quantity != "" {
			n += "." + r.Quantity
		}
		out = append(out, Sample{n, r.Value})
	}
	return append(out, Sample{"rssi", float64(p.RSSI)}, Sample{"heap", float64(p.Heap)})
}
