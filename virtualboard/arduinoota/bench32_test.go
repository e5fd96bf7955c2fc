package arduinoota_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/iotbench/iotbench/flasher/ota"
	"github.com/iotbench/iotbench/virtualboard/arduinoota"
	"github.com/iotbench/iotbench/virtualboard/esp32fw"
)

// BenchmarkOTAUpload500KBESP32vsESP8266 uploads a 500 KB application over
// loopback to a virtual ESP32-C3 (arduino-esp32: into the other OTA slot,
// 64 KiB block erases, otadata switched at the end) and, in the same run,
// to a virtual ESP8266 (staged below the filesystem, sector erases, eboot
// copies it at the next boot), both boards in real time so the NOR flash
// model's erase and program times count. It reports each upload's time
// (invitation to the device's OK) and the ESP32/ESP8266 ratio.
//
//	go test -run '^$' -bench OTAUpload500KBESP32 -benchtime 1x ./virtualboard/arduinoota
func BenchmarkOTAUpload500KBESP32vsESP8266(b *testing.B) {
	const size = 500_000
	var t32, t8266 time.Duration
	for i := 0; i < b.N; i++ {
		v := uint32(0x500 + i)
		// ESP32-C3.
		pt := table32(b)
		fw, err := esp32fw.Merged(chip32, pt, 1)
		if err != nil {
			b.Fatal(err)
		}
		r32 := newRigAt(b, arduinoota.Config{Chip: chip32}, 1, 115200, fw, arduinoota.BasicOTA)
		img32 := app32(b, v, size)
		m := r32.log.mark()
		start := time.Now()
		if _, _, err := r32.upload(context.Background(), ota.Options{}, img32); err != nil {
			b.Fatal(err)
		}
		t32 += time.Since(start)
		r32.log.waitFor(b, m, fmt.Sprintf("BasicOTA v%08x from app1", v))

		// ESP8266, 4M1M.
		r8 := newRigAt(b, arduinoota.Config{Layout: layout4M1M(b)}, 1, 74880, sketch(b, 1, 100_000), arduinoota.BasicOTA)
		img8 := sketch(b, v, size)
		m = r8.log.mark()
		start = time.Now()
		if _, _, err := r8.upload(context.Background(), ota.Options{}, img8); err != nil {
			b.Fatal(err)
		}
		t8266 += time.Since(start)
		r8.log.waitFor(b, m, fmt.Sprintf("BasicOTA v%08x", v))
	}
	n := float64(b.N)
	b.ReportMetric(t32.Seconds()/n, "s-esp32/op")
	b.ReportMetric(t8266.Seconds()/n, "s-esp8266/op")
	b.ReportMetric(t32.Seconds()/t8266.Seconds(), "esp32/esp8266")
}
