package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/ledger"
	"github.com/iotbench/iotbench/serialmon"
)

// session is an open port with a prepared loader.
type session struct {
	port   flasher.Port
	loader *flasher.Loader
	info   *flasher.ChipInfo
	after  flasher.AfterMode
}

func (s *session) close() {
	if s.port != nil {
		s.port.Close()
	}
}

// openPort opens --port, or picks the one ESP-looking USB port.
func (a *app) openPort(ctx context.Context, baud int) (flasher.Port, string, error) {
	spec := a.port
	if spec == "" {
		ports, err := serialmon.ListPorts()
		if err != nil {
			return nil, "", &portError{fmt.Errorf("listing serial ports: %w (pass --port)", err)}
		}
		p, err := serialmon.ChoosePort(ports)
		if err != nil {
			return nil, "", err
		}
		spec = p.Path
		a.out.say("Using %s (%s)", p.Path, p.Bridge)
	}
	p, err := serialmon.Open(ctx, spec, baud)
	if err != nil {
		return nil, "", &portError{err}
	}
	return p, spec, nil
}

// connect opens the port and prepares the loader as esptool does before
// any command. skipFlash skips the flash prelude.
func (a *app) connect(ctx context.Context, skipFlash bool) (*session, error) {
	before, err := flasher.ParseBefore(a.before)
	if err != nil {
		return nil, usagef("%v", err)
	}
	after, err := flasher.ParseAfter(a.after)
	if err != nil {
		return nil, usagef("%v", err)
	}
	if a.baud <= 0 {
		return nil, usagef("--baud %d: use a positive rate such as 115200 or 921600", a.baud)
	}
	if a.stubFile != "" && a.noStub {
		return nil, usagef("--stub-file and --no-stub contradict each other")
	}
	port, name, err := a.openPort(ctx, flasher.InitialBaud(a.baud))
	if err != nil {
		return nil, err
	}
	opts := flasher.SessionOptions{
		ConnectOptions: flasher.ConnectOptions{
			PortName: name, Before: before, Attempts: a.connectAttempts, Chip: a.chip, Events: a.flashEvent,
		},
		Baud: a.baud, NoStub: a.noStub, StubFile: a.stubFile, SkipFlash: skipFlash,
	}
	if a.trace {
		opts.Trace = func(s string) { fmt.Fprintln(a.stderr, "TRACE", s) }
	}
	l, info, err := flasher.Open(ctx, port, opts)
	if err != nil {
		port.Close()
		return nil, err
	}
	return &session{port: port, loader: l, info: info, after: after}, nil
}

// openLedger opens the flash ledger in the data directory. It is a hint
// for fast reflash, so a data directory that cannot be used costs speed,
// not the job: it is said, and the write goes on without it.
func (a *app) openLedger() *ledger.Ledger {
	led, err := ledger.Open()
	if err != nil {
		a.out.event(flasher.WarningEvent{Message: fmt.Sprintf("%v: fast reflash compares with the chip instead", err)})
		return nil
	}
	return led
}

// finish runs --after and closes the port.
func (s *session) finish() error {
	defer s.close()
	return s.loader.After(s.after)
}

// parseNumber reads 0x-hex, decimal, or sizes like 4K / 1M / 4MB.
func parseNumber(s string) (uint64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := uint64(1)
	for _, suf := range []struct {
		s string
		m uint64
	}{{"KB", 1 << 10}, {"MB", 1 << 20}, {"K", 1 << 10}, {"M", 1 << 20}} {
		if strings.HasSuffix(t, suf.s) && !strings.HasPrefix(t, "0X") {
			t, mult = strings.TrimSuffix(t, suf.s), suf.m
			break
		}
	}
	v, err := strconv.ParseUint(strings.ToLower(t), 0, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number: use decimal, 0x-hex, or a size like 4K / 1M", s)
	}
	return v * mult, nil
}

func parseAddr(s string) (uint32, error) {
	v, err := parseNumber(s)
	if err != nil {
		return 0, usagef("bad address %v", err)
	}
	if v > 0xFFFFFFFF {
		return 0, usagef("address %s is beyond 32 bits", s)
	}
	return uint32(v), nil
}

// readInputFile reads a file to flash with an error that names the fix.
func readInputFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, &flasher.InputError{Msg: fmt.Sprintf("%s: no such file (check the path; arguments are ADDRESS FILE pairs)", path)}
		}
		if os.IsPermission(err) {
			return nil, &flasher.InputError{Msg: fmt.Sprintf("%s: permission denied: make it readable (chmod +r)", path)}
		}
		return nil, &flasher.InputError{Msg: fmt.Sprintf("%s: cannot read: %v", path, err)}
	}
	return b, nil
}
