package main

import (
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/ota"
	"github.com/iotbench/iotbench/virtualboard"
	"github.com/iotbench/iotbench/virtualboard/arduinoota"
)

func init() {
	scriptCmds["otaboard"] = cmdOTABoard
	scriptCmds["otaimage"] = cmdOTAImage
	scriptCmds["otaserial"] = cmdOTASerial
	scriptCmds["freeudp"] = cmdFreeUDP
}

// otaLogs keeps each script's board output (scripts run in parallel).
var otaLogs sync.Map // *testscript.TestScript → *otaLog

type otaLog struct {
	mu      sync.Mutex
	buf     strings.Builder
	seen    int // otaserial looks after the end of its last match
	changed chan struct{}
}

// otaboard [-auth PASSWORD]: a virtual ESP8266 (clock ×1000) running the
// BasicOTA sketch on loopback, with a small sketch (version 1) in flash.
// Sets $OTA_PORT (ArduinoOTA UDP port) and $OTA_MDNS (its mDNS responder,
// IP:PORT); vbflash works on it.
func cmdOTABoard(ts *testscript.TestScript, neg bool, args []string) {
	var cfg arduinoota.Config
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-auth":
			i++
			cfg.PasswordHash = ota.PasswordHash(args[i])
		default:
			ts.Fatalf("otaboard: unknown flag %s", args[i])
		}
	}
	l, err := layout.ESP8266("4M1M")
	ts.Check(err)
	cfg.Layout = l
	d, err := arduinoota.New(cfg)
	ts.Check(err)
	b, err := virtualboard.New(virtualboard.Config{Speed: 1000, App: arduinoota.BasicOTA(d)})
	ts.Check(err)
	p, err := b.Port()
	ts.Check(err)
	p.SetBaudRate(74880)
	log := followOTASerial(ts, p)
	ts.Defer(func() {
		b.Close()
		d.Close()
		boards.Delete(ts)
	})
	boards.Store(ts, b)
	v1, err := arduinoota.SketchImage(1, 20_000)
	ts.Check(err)
	b.Flash().Load(0, v1)
	b.Reset(false)
	waitOTALog(ts, log, "Ready\n")
	ts.Setenv("OTA_PORT", strconv.Itoa(d.Addr().Port))
	ts.Setenv("OTA_MDNS", d.MDNSAddr().String())
	ts.Setenv("OTA_MDNS_PORT", strconv.Itoa(d.MDNSAddr().Port))
}

// otaimage FILE VERSION [SIZE]: an Arduino-layout image (eboot + app)
// whose version marker is VERSION (hex).
func cmdOTAImage(ts *testscript.TestScript, neg bool, args []string) {
	writeOTAImage(ts, "otaimage", args, arduinoota.SketchImage)
}

// writeOTAImage parses FILE VERSION [SIZE] and writes build's image.
func writeOTAImage(ts *testscript.TestScript, name string, args []string, build func(version uint32, size int) ([]byte, error)) {
	if len(args) < 2 {
		ts.Fatalf("usage: %s FILE VERSION [SIZE]", name)
	}
	v, err := strconv.ParseUint(args[1], 16, 32)
	ts.Check(err)
	size := 20_000
	if len(args) > 2 {
		size, err = strconv.Atoi(args[2])
		ts.Check(err)
	}
	img, err := build(uint32(v), size)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), img, 0o644))
}

// otaserial TEXT: wait until the otaboard has printed TEXT after what the
// previous otaserial matched (so a script can follow a sequence of boots).
// \n and \r in TEXT stand for LF and CR.
func cmdOTASerial(ts *testscript.TestScript, neg bool, args []string) {
	v, ok := otaLogs.Load(ts)
	if !ok {
		ts.Fatalf("otaserial: no otaboard in this script")
	}
	want := strings.NewReplacer(`\n`, "\n", `\r`, "\r").Replace(strings.Join(args, " "))
	waitOTALog(ts, v.(*otaLog), want)
}

func waitOTALog(ts *testscript.TestScript, l *otaLog, want string) {
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		s := l.buf.String()[l.seen:]
		if i := strings.Index(s, want); i >= 0 {
			l.seen += i + len(want)
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		select {
		case <-l.changed:
		case <-deadline.C:
			ts.Fatalf("the board did not print %q; it printed:\n%s", want, s)
		}
	}
}

// freeudp: put a loopback UDP port nothing listens on into $FREE_UDP.
func cmdFreeUDP(ts *testscript.TestScript, neg bool, args []string) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	ts.Check(err)
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	ts.Setenv("FREE_UDP", strconv.Itoa(port))
}
