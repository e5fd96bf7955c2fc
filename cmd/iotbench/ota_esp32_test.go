package main

import (
	"context"
	"strconv"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/ota"
	"github.com/iotbench/iotbench/virtualboard"
	"github.com/iotbench/iotbench/virtualboard/arduinoota"
	"github.com/iotbench/iotbench/virtualboard/esp32fw"
)

func init() {
	scriptCmds["otaboard32"] = cmdOTABoard32
	scriptCmds["otaimage32"] = cmdOTAImage32
}

// otaboard32 [-auth PASSWORD]: a virtual ESP32-C3 (clock ×1000) with the
// stand-in bootloader, arduino-esp32's default partition table and the
// app of otaimage32 version 1 in app0, running BasicOTA (arduino-esp32's
// ArduinoOTA and Update) on loopback. Sets $OTA_PORT; otaserial follows
// its serial output and vbflash reads its flash.
func cmdOTABoard32(ts *testscript.TestScript, neg bool, args []string) {
	cfg := arduinoota.Config{Chip: image.ChipESP32C3}
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-auth":
			i++
			cfg.PasswordHash = ota.PasswordHash(args[i])
		default:
			ts.Fatalf("otaboard32: unknown flag %s", args[i])
		}
	}
	d, err := arduinoota.New(cfg)
	ts.Check(err)
	b, err := virtualboard.New(virtualboard.Config{Chip: cfg.Chip, Speed: 1000, App: arduinoota.BasicOTA(d)})
	ts.Check(err)
	p, err := b.Port()
	ts.Check(err)
	p.SetBaudRate(firmware.SerialBaudESP32)
	log := followOTASerial(ts, p)
	ts.Defer(func() {
		b.Close()
		d.Close()
		boards.Delete(ts)
	})
	boards.Store(ts, b)
	otaLogs.Store(ts, log)
	pt, err := layout.ESP32DefaultTable("default", 4<<20)
	ts.Check(err)
	fw, err := esp32fw.Merged(cfg.Chip, pt, 1)
	ts.Check(err)
	app0, err := pt.ByLabel("app0")
	ts.Check(err)
	v1, err := arduinoota.AppImage32(cfg.Chip, 1, 20_000)
	ts.Check(err)
	b.Flash().Load(0, append(fw[:app0.Offset], v1...))
	b.Reset(false)
	waitOTALog(ts, log, "Ready\n")
	ts.Setenv("OTA_PORT", strconv.Itoa(d.Addr().Port))
}

// otaimage32 FILE VERSION [SIZE]: an ESP32-C3 app image whose version
// word (what BasicOTA prints as v%08x) is VERSION (hex).
func cmdOTAImage32(ts *testscript.TestScript, neg bool, args []string) {
	writeOTAImage(ts, "otaimage32", args, func(v uint32, size int) ([]byte, error) {
		return arduinoota.AppImage32(image.ChipESP32C3, v, size)
	})
}

// followOTASerial collects what the board sends on p into an otaLog that
// otaserial reads, until the script ends.
func followOTASerial(ts *testscript.TestScript, p *virtualboard.HostPort) *otaLog {
	log := &otaLog{changed: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for ctx.Err() == nil {
			n, err := p.Read(buf)
			log.mu.Lock()
			log.buf.Write(buf[:n])
			log.mu.Unlock()
			select {
			case log.changed <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	ts.Defer(func() {
		cancel()
		p.Close()
		<-done
		otaLogs.Delete(ts)
	})
	otaLogs.Store(ts, log)
	return log
}
