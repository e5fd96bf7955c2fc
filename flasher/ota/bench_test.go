package ota_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/ota"
	"github.com/iotbench/iotbench/virtualboard"
	"github.com/iotbench/iotbench/virtualboard/arduinoota"
)

// BenchmarkOTAUpload500KB uploads a 500 KB application over the air to a
// virtual board running in real time (loopback network, the NOR flash
// model's erase and program times), and in the same run writes the same
// image over serial at 921600 baud with the stub (compressed, as esptool
// does) to another real-time board. It reports both times and their ratio,
// plus how long the board takes after the OTA's OK to run the new sketch
// (eboot copies the staged image first).
//
//	go test -run '^$' -bench OTAUpload -benchtime 1x ./flasher/ota
func BenchmarkOTAUpload500KB(b *testing.B) {
	img, err := arduinoota.SketchImage(2, 500_000)
	if err != nil {
		b.Fatal(err)
	}
	stub := writeStub(b)
	l, err := layout.ESP8266("4M1M")
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		// Over the air.
		d, err := arduinoota.New(arduinoota.Config{Layout: l})
		if err != nil {
			b.Fatal(err)
		}
		board, err := virtualboard.New(virtualboard.Config{Speed: 1, App: arduinoota.BasicOTA(d)})
		if err != nil {
			b.Fatal(err)
		}
		v1, _ := arduinoota.SketchImage(1, 100_000)
		board.Flash().Load(0, v1)
		board.Reset(false)
		servers := []string{d.MDNSAddr().String()}
		waitAdvertised(b, servers, false)
		charged0 := board.Flash().Charged()
		start := time.Now()
		res, err := ota.Upload(context.Background(), ota.Options{Host: "127.0.0.1", Port: d.Addr().Port}, img, nil)
		if err != nil {
			b.Fatal(err)
		}
		otaTime := time.Since(start)
		// What the device cannot go below: the flash time of staging the
		// image plus ArduinoOTA's own waits (100 ms after the UDP OK, 1 s
		// before the TCP OK).
		otaLimit := board.Flash().Charged() - charged0 + 1100*time.Millisecond
		// The new sketch is up once it advertises again after the copy.
		waitAdvertised(b, servers, true)
		rebootTime := time.Since(start) - otaTime
		if !bytes.Equal(board.Flash().Read(0, len(img)), img) {
			b.Fatal("the board does not hold the new image")
		}
		board.Close()
		d.Close()

		// Over serial, same image, same run.
		sb, err := virtualboard.New(virtualboard.Config{Speed: 1})
		if err != nil {
			b.Fatal(err)
		}
		port, err := sb.Port()
		if err != nil {
			b.Fatal(err)
		}
		sessStart := time.Now()
		ld, _, err := flasher.Open(context.Background(), port, flasher.SessionOptions{ConnectOptions: flasher.ConnectOptions{PortName: "in-process"}, StubFile: stub, Baud: 921600})
		if err != nil {
			b.Fatal(err)
		}
		wStart := time.Now()
		if err := ld.WriteFlash(context.Background(), []flasher.Region{{Addr: 0, Data: img}}, flasher.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
		serialWrite := time.Since(wStart)
		serialSession := time.Since(sessStart)
		port.Close()
		sb.Close()

		b.ReportMetric(float64(res.Size), "bytes")
		b.ReportMetric(otaTime.Seconds(), "s_ota")
		b.ReportMetric(otaTime.Seconds()/otaLimit.Seconds(), "ota_x_limit")
		b.ReportMetric(rebootTime.Seconds(), "s_ota_reboot_copy")
		b.ReportMetric(serialWrite.Seconds(), "s_serial921600_write")
		b.ReportMetric(serialSession.Seconds(), "s_serial921600_session")
		b.ReportMetric(otaTime.Seconds()/serialWrite.Seconds(), "ota/serial_write")
	}
}

// advertised reports whether the board's sketch answers mDNS now.
func advertised(b *testing.B, servers []string) bool {
	bs, err := ota.Discover(context.Background(), ota.DiscoverOptions{Servers: servers, Timeout: 300 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	return len(bs) == 1
}

// waitAdvertised waits until the sketch advertises; with restart it first
// waits for it to stop (the board rebooting into eboot's copy).
func waitAdvertised(b *testing.B, servers []string, restart bool) {
	b.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for restart && advertised(b, servers) {
		if time.Now().After(deadline) {
			b.Fatal("the board did not restart after the update")
		}
	}
	for !advertised(b, servers) {
		if time.Now().After(deadline) {
			b.Fatal("the board's sketch did not come up")
		}
	}
}

// writeStub writes a stub in esptool's JSON format at the ESP8266 stub's
// addresses; the virtual board emulates the stub's behaviour and does not
// run its code, so the code bytes are filler.
func writeStub(b *testing.B) string {
	text := make([]byte, 0x2054)
	for i := range text {
		text[i] = byte(i * 7)
	}
	j, _ := json.Marshal(map[string]any{
		"entry": 0x4010D004, "text": base64.StdEncoding.EncodeToString(text), "text_start": 0x4010D000,
		"data": base64.StdEncoding.EncodeToString(make([]byte, 0x300)), "data_start": 0x3FFFACAC, "bss_start": 0x3FFFAC00,
	})
	p := filepath.Join(b.TempDir(), "esp8266.json")
	if err := os.WriteFile(p, j, 0o644); err != nil {
		b.Fatal(err)
	}
	return p
}
