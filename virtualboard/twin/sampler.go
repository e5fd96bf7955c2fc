package twin

import (
	"math"
	"time"

	"github.com/iotbench/iotbench/firmware"
)

// sampler reads each configured sensor at its own interval and keeps the
// latest values for the next payload (device-side.md §6.3: sensors behind
// one interface, chosen by config).
type sampler struct {
	sensors []firmware.Sensor
	read    func(s firmware.Sensor, quantity string, seq uint32) (float64, bool)
	next    []time.Duration
	values  [][]float64 // per sensor, per quantity; nil after a failed read
	sampled []bool
}

func newSampler(sensors []firmware.Sensor, read func(firmware.Sensor, string, uint32) (float64, bool)) *sampler {
	if read == nil {
		read = defaultSensor
	}
	return &sampler{sensors: sensors, read: read, next: make([]time.Duration, len(sensors)),
		values: make([][]float64, len(sensors)), sampled: make([]bool, len(sensors))}
}

// quantities of a sensor: its named ones, or one unnamed.
func quantities(t firmware.SensorType) []string {
	if q := firmware.Quantities(t); q != nil {
		return q
	}
	return []string{""}
}

func (sm *sampler) sample(now time.Duration, seq uint32) {
	for i, s := range sm.sensors {
		if s.Type == firmware.SensorNone || (sm.sampled[i] && now < sm.next[i]) {
			continue
		}
		sm.sampled[i] = true
		sm.next[i] = now + time.Duration(s.IntervalS)*time.Second
		var vals []float64
		for _, q := range quantities(s.Type) {
			v, ok := sm.read(s, q, seq)
			if _, fine := firmware.FormatReading(v); !ok || !fine {
				vals = nil
				break
			}
			vals = append(vals, v)
		}
		sm.values[i] = vals
	}
}

// readings returns the latest values, and the sensors whose last read failed.
func (sm *sampler) readings() (out []firmware.Reading, failed []string) {
	for i, s := range sm.sensors {
		if s.Type == firmware.SensorNone || !sm.sampled[i] {
			continue
		}
		if sm.values[i] == nil {
			failed = append(failed, s.Name)
			continue
		}
		for j, q := range quantities(s.Type) {
			out = append(out, firmware.Reading{Sensor: s.Name, Quantity: q, Value: sm.values[i][j]})
		}
	}
	return out, failed
}

// defaultSensor returns what a bench with typical parts would read.
func defaultSensor(s firmware.Sensor, quantity string, seq uint32) (float64, bool) {
	switch s.Type {
	case firmware.SensorAnalogLight:
		return float64(500 + seq*37%100), true
	case firmware.SensorAnalogTemp:
		return firmware.AnalogTempC(67), true
	case firmware.SensorDHT22:
		return map[string]float64{"temperature": 21.5, "humidity": 45.2}[quantity], true
	case firmware.SensorPMS5003:
		return map[string]float64{"pm1_0": 3, "pm2_5": 5, "pm10": 7}[quantity], true
	case firmware.SensorFake:
		return firmware.FakeReading(seq), true
	}
	return math.NaN(), false
}
