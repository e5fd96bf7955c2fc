package serialmon

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/serialmon/rfc2217"
)

func TestOpenMissingPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ttyUSB7")
	p, err := Open(context.Background(), path, 115200)
	if err == nil {
		p.Close()
		t.Fatal("Open of a missing path succeeded")
	}
	for _, m := range []string{path, "no such port", "`iotbench ports`"} {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not mention %q", err, m)
		}
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v is not fs.ErrNotExist", err)
	}
}

func TestOpenNotASerialPort(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{file, os.DevNull} {
		p, err := Open(context.Background(), path, 115200)
		if err == nil {
			p.Close()
			t.Fatalf("Open(%s) succeeded", path)
		}
		if !strings.Contains(err.Error(), path+": not a serial port") {
			t.Errorf("Open(%s): %v", path, err)
		}
	}
}

func TestOpenBadArguments(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		ctx  context.Context
		spec string
		baud int
		want string
	}{
		{ctx, "/dev/ttyUSB0", 0, "invalid baud rate 0"},
		{ctx, "/dev/ttyUSB0", -9600, "invalid baud rate"},
		{ctx, "", 115200, "pass --port PATH"},
		{ctx, "socket://localhost:4000", 115200, "unsupported port URL"},
		{cancelled, "/dev/ttyUSB0", 115200, context.Canceled.Error()},
	}
	for _, tt := range tests {
		p, err := Open(tt.ctx, tt.spec, tt.baud)
		if err == nil {
			p.Close()
			t.Errorf("Open(%q, %d) succeeded", tt.spec, tt.baud)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%q, %d) = %v; want it to mention %q", tt.spec, tt.baud, err, tt.want)
		}
	}
}

// TestOpenErrorAdvice covers the errno paths of openError; go.bug.st/serial's
// own *PortError codes cannot be built outside that package.
func TestOpenErrorAdvice(t *testing.T) {
	tests := []struct {
		err  error
		kind error
		want string
	}{
		{syscall.ENOENT, fs.ErrNotExist, "/dev/x: no such port; list ports with `iotbench ports`"},
		{syscall.ENODEV, fs.ErrNotExist, "no such port"},
		{syscall.EACCES, fs.ErrPermission, "/dev/x: permission denied: add your user to the dialout group (Linux) or uucp (Arch), then log in again"},
		{syscall.EBUSY, ErrPortBusy, "/dev/x: the port is busy: close the other program using it (a serial monitor?)"},
		{syscall.EMFILE, syscall.EMFILE, "/dev/x: too many open files"},
	}
	for _, tt := range tests {
		err := openError("/dev/x", tt.err)
		if err.Error() != tt.want && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("openError(%v) = %q; want %q", tt.err, err, tt.want)
		}
		if !errors.Is(err, tt.kind) || !errors.Is(err, tt.err) {
			t.Errorf("openError(%v) = %v; want it to wrap %v and %v", tt.err, err, tt.kind, tt.err)
		}
	}
}

// bench is a trivial RFC 2217 server-side handler: it records what the
// client set and what it sent.
type bench struct {
	mu   sync.Mutex
	baud int
	ctl  []byte
	rx   []byte
}

func (b *bench) SetBaudRate(baud int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if baud != 0 {
		b.baud = baud
	}
	return b.baud
}
func (b *bench) SetDataSize(int) int { return 8 }
func (b *bench) SetParity(int) int   { return rfc2217.ParityNone }
func (b *bench) SetStopSize(int) int { return rfc2217.StopSize1 }
func (b *bench) SetControl(v byte) byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ctl = append(b.ctl, v)
	return v
}
func (b *bench) Purge(byte) {}
func (b *bench) Received(data []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rx = append(b.rx, data...)
}

func (b *bench) received() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.rx...)
}

func TestOpenRFC2217(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &bench{baud: 9600}
	scc := make(chan *rfc2217.ServerConn, 1)
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		sc := rfc2217.NewServerConn(c, h)
		scc <- sc
		done <- sc.Run()
	}()
	defer ln.Close()

	p, err := Open(context.Background(), "rfc2217://"+ln.Addr().String(), 74880)
	if err != nil {
		t.Fatal(err)
	}
	sc := <-scc
	defer func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Errorf("ServerConn.Run: %v", err)
		}
		sc.Close()
	}()

	if got := p.BaudRate(); got != 74880 {
		t.Errorf("BaudRate() = %d; want 74880", got)
	}
	h.mu.Lock()
	if h.baud != 74880 {
		t.Errorf("server baud %d; want 74880", h.baud)
	}
	h.mu.Unlock()
	if r, ok := p.(flasher.RemotePort); !ok || !r.IsRemote() {
		t.Error("an rfc2217 port does not report itself remote (flasher.RemotePort)")
	}
	if _, ok := p.(flasher.LinePairSetter); !ok {
		t.Error("an rfc2217 port lost flasher.LinePairSetter")
	}
	if _, ok := p.(flasher.USBPort); ok {
		t.Error("an rfc2217 port claims USB IDs")
	}

	if _, err := p.Write([]byte("hello\xff")); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Write([]byte("world")); err != nil {
		t.Fatal(err)
	}
	if err := p.SetReadTimeout(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	got := readN(t, p, 5)
	if string(got) != "world" {
		t.Errorf("read %q; want %q", got, "world")
	}
	deadline := time.Now().Add(2 * time.Second)
	for !bytes.Equal(h.received(), []byte("hello\xff")) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if rx := h.received(); !bytes.Equal(rx, []byte("hello\xff")) {
		t.Errorf("server received %q; want %q", rx, "hello\xff")
	}
}

// readN reads until n bytes came or a Read times out.
func readN(t *testing.T, p flasher.Port, n int) []byte {
	t.Helper()
	var got []byte
	buf := make([]byte, 64)
	for len(got) < n {
		k, err := p.Read(buf)
		if err != nil {
			t.Fatalf("Read after %q: %v", got, err)
		}
		if k == 0 {
			t.Fatalf("Read timed out after %q; want %d bytes", got, n)
		}
		got = append(got, buf[:k]...)
	}
	return got
}
