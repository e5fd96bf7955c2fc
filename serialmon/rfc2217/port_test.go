package rfc2217_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotbench/iotbench/serialmon/rfc2217"
)

// openLog is what the handler sees while Dial opens the port.
var openLog = []string{"baud:115200", "datasize:8", "parity:1", "stop:1", "ctl:1"}

func TestOpenAndSetBaudRate(t *testing.T) {
	h := newRecorder()
	p := dial(t, serve(t, h))
	if log, _ := h.snapshot(); !equalStrings(log, openLog) {
		t.Fatalf("open sequence %q, want %q", log, openLog)
	}
	if got := p.BaudRate(); got != 115200 {
		t.Fatalf("BaudRate() = %d after open", got)
	}
	if err := p.SetBaudRate(921600); err != nil {
		t.Fatal(err)
	}
	if got := p.BaudRate(); got != 921600 {
		t.Fatalf("BaudRate() = %d, want 921600", got)
	}
	// 0x0001C2FF contains an IAC byte, which must be escaped.
	if err := p.SetBaudRate(0x1c2ff); err != nil {
		t.Fatal(err)
	}
	if log, _ := h.snapshot(); !equalStrings(log[len(openLog):], []string{"baud:921600", "baud:115455"}) {
		t.Fatalf("handler log %q", log)
	}
}

func TestDialWithBaud(t *testing.T) {
	h := newRecorder()
	p := dial(t, serve(t, h), rfc2217.WithBaud(74880))
	if log, _ := h.snapshot(); log[0] != "baud:74880" || p.BaudRate() != 74880 {
		t.Fatalf("log %q, BaudRate %d", log, p.BaudRate())
	}
}

func TestBaudRejected(t *testing.T) {
	h := newRecorder()
	h.rejectBaud = map[int]bool{1234: true, 5678: true}
	url := serve(t, h)
	p := dial(t, url)
	err := p.SetBaudRate(1234)
	if err == nil || !strings.Contains(err.Error(), "refused 1234 baud (it kept 115200)") {
		t.Fatalf("SetBaudRate(1234) = %v", err)
	}
	if got := p.BaudRate(); got != 115200 {
		t.Fatalf("BaudRate() = %d after a refused change", got)
	}
	if _, err := rfc2217.Dial(context.Background(), url, rfc2217.WithBaud(5678)); err == nil || !strings.Contains(err.Error(), "refused 5678") {
		t.Fatalf("Dial with a refused baud = %v", err)
	}
}

func TestAllByteValuesBothWays(t *testing.T) {
	h := newRecorder()
	p := dial(t, serve(t, h))
	sent := allBytes(64) // 16 KiB with runs of 0xFF
	if n, err := p.Write(sent); err != nil || n != len(sent) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	h.waitLog(t, func(_ []string, rx []byte) bool { return len(rx) >= len(sent) })
	if _, rx := h.snapshot(); !bytes.Equal(rx, sent) {
		t.Fatalf("server received %d bytes, differing from the %d sent", len(rx), len(sent))
	}

	h.mu.Lock()
	sc := h.sc
	h.mu.Unlock()
	if n, err := sc.Write(sent); err != nil || n != len(sent) {
		t.Fatalf("ServerConn.Write = %d, %v", n, err)
	}
	if got := readN(t, p, len(sent)); !bytes.Equal(got, sent) {
		t.Fatalf("client received different bytes")
	}
}

func TestEchoLargeRandom(t *testing.T) {
	h := newRecorder()
	h.echo = true
	p := dial(t, serve(t, h))
	data := make([]byte, 256<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	done := make(chan error, 1)
	go func() {
		for off := 0; off < len(data); off += 1000 {
			if _, err := p.Write(data[off:min(off+1000, len(data))]); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	got := readN(t, p, len(data))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("echoed data differs")
	}
}

func TestControlOrderRelativeToData(t *testing.T) {
	h := newRecorder()
	p := dial(t, serve(t, h))
	steps := []func() error{
		func() error { _, err := p.Write([]byte("A")); return err },
		func() error { return p.SetDTR(true) },
		func() error { return p.SetRTS(false) },
		func() error { _, err := p.Write([]byte("B\xff")); return err },
		func() error { return p.SetDTRRTS(false, true) },
		func() error { _, err := p.Write([]byte("C")); return err },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			t.Fatal(err)
		}
	}
	want := append(append([]string(nil), openLog...), "data:A", "ctl:8", "ctl:12", "data:B\xff", "ctl:9", "ctl:11", "data:C")
	h.waitLog(t, func(log []string, _ []byte) bool { return len(log) >= len(want) && log[len(log)-1] == "data:C" })
	if log, _ := h.snapshot(); !equalStrings(log, want) {
		t.Fatalf("handler saw %q\nwant %q", log, want)
	}
	// All acks matched: a synchronous call reports nothing.
	if err := p.ResetInputBuffer(); err != nil {
		t.Fatal(err)
	}
}

func TestSetDTRRTSIsOneWrite(t *testing.T) {
	var got []byte
	var mu sync.Mutex
	first := make(chan struct{})
	url := rawServer(t, func(c net.Conn) {
		c.Write(rfc2217.AppendNegotiation(nil, rfc2217.DO, rfc2217.OptComPort))
		var d rfc2217.Decoder
		buf := make([]byte, 4096)
		opened := false
		for {
			n, err := c.Read(buf)
			if opened {
				mu.Lock()
				got = append(got, buf[:n]...)
				mu.Unlock()
				if n > 0 {
					close(first)
					return
				}
			}
			var out []byte
			d.Feed(buf[:n], func(e rfc2217.Event) {
				if e.Kind == rfc2217.EventSubnegotiation && len(e.Data) > 0 {
					out = rfc2217.AppendComPortOption(out, e.Data[0]+rfc2217.ServerReply, e.Data[1:])
					if e.Data[0] == rfc2217.CmdSetControl {
						opened = true
					}
				}
			})
			c.Write(out)
			if err != nil {
				return
			}
		}
	})
	p := dial(t, url)
	if err := p.SetDTRRTS(true, true); err != nil {
		t.Fatal(err)
	}
	<-first
	want := rfc2217.AppendComPortOption(nil, rfc2217.CmdSetControl, []byte{rfc2217.ControlDTROn})
	want = rfc2217.AppendComPortOption(want, rfc2217.CmdSetControl, []byte{rfc2217.ControlRTSOn})
	mu.Lock()
	defer mu.Unlock()
	if !bytes.Equal(got, want) {
		t.Fatalf("first read after open: % x, want % x (both changes in one segment)", got, want)
	}
}

func TestControlRejectionReportedLater(t *testing.T) {
	h := newRecorder()
	h.controlAnswer = map[byte]byte{rfc2217.ControlDTROn: rfc2217.ControlDTROff}
	p := dial(t, serve(t, h))
	if err := p.SetDTR(true); err != nil {
		t.Fatalf("SetDTR must not wait for the answer, got %v", err)
	}
	err := p.ResetInputBuffer()
	if err == nil || !strings.Contains(err.Error(), "rejected DTR on") || !strings.Contains(err.Error(), "ign_set_control") {
		t.Fatalf("ResetInputBuffer after a rejected DTR = %v", err)
	}
	if err := p.SetBaudRate(115200); err != nil {
		t.Fatalf("the rejection must be reported once, got %v", err)
	}
}

func TestIgnSetControl(t *testing.T) {
	// Like sredird: every SET-CONTROL is answered with 1.
	h := newRecorder()
	h.controlAnswer = map[byte]byte{}
	for v := range byte(20) {
		h.controlAnswer[v] = 1
	}
	url := serve(t, h)

	p := dial(t, url)
	p.SetDTR(false)
	if err := p.ResetInputBuffer(); err == nil {
		t.Fatal("a wrong SET-CONTROL answer went unnoticed")
	}
	p.Close()

	p = dial(t, url+"?ign_set_control")
	p.SetDTR(false)
	p.SetRTS(true)
	if err := p.ResetInputBuffer(); err != nil {
		t.Fatalf("with ign_set_control: %v", err)
	}
}

func TestResetInputBufferDiscardsInFlightData(t *testing.T) {
	h := newRecorder()
	h.onData = func(sc *rfc2217.ServerConn, data []byte) {
		switch string(data) {
		case "x":
			sc.Write([]byte("stale"))
		case "y":
			sc.Write([]byte("fresh"))
		}
	}
	h.onPurge = func(sc *rfc2217.ServerConn, _ byte) {
		// Written before the ack: in flight when the purge completes.
		sc.Write([]byte("inflight"))
	}
	p := dial(t, serve(t, h))
	p.Write([]byte("x"))
	h.waitLog(t, func(log []string, _ []byte) bool { return log[len(log)-1] == "data:x" })
	if err := p.ResetInputBuffer(); err != nil {
		t.Fatal(err)
	}
	p.Write([]byte("y"))
	if got := readN(t, p, 5); string(got) != "fresh" {
		t.Fatalf("read %q after purge, want \"fresh\"", got)
	}
	p.SetReadTimeout(50 * time.Millisecond)
	if n, err := p.Read(make([]byte, 10)); n != 0 || err != nil {
		t.Fatalf("extra data after purge: %d, %v", n, err)
	}
}

// TestResetInputBufferSameSegment checks the cut at the exact stream
// position of the ack when stale data, ack and new data share a segment.
func TestResetInputBufferSameSegment(t *testing.T) {
	url := scriptedServer(t, func(code byte, v []byte) []byte {
		if code != rfc2217.CmdPurgeData {
			return nil
		}
		b := rfc2217.AppendEscaped(nil, []byte("stale\xff"))
		b = rfc2217.AppendComPortOption(b, code+rfc2217.ServerReply, v)
		return rfc2217.AppendEscaped(b, []byte("fresh\xff"))
	})
	p := dial(t, url)
	if err := p.ResetInputBuffer(); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, p, 6); string(got) != "fresh\xff" {
		t.Fatalf("got %q", got)
	}
}

func TestReadTimeout(t *testing.T) {
	p := dial(t, serve(t, newRecorder()))
	p.SetReadTimeout(80 * time.Millisecond)
	start := time.Now()
	n, err := p.Read(make([]byte, 10))
	if n != 0 || err != nil {
		t.Fatalf("Read = %d, %v; want 0, nil", n, err)
	}
	if d := time.Since(start); d < 70*time.Millisecond || d > 2*time.Second {
		t.Fatalf("Read returned after %v", d)
	}
}

func TestCloseUnblocksRead(t *testing.T) {
	p := dial(t, serve(t, newRecorder()))
	p.SetReadTimeout(0) // block until data or close
	res := make(chan error, 1)
	go func() {
		_, err := p.Read(make([]byte, 10))
		res <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-res:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not unblock Read")
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := p.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close = %v", err)
	}
	if err := p.SetDTR(true); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("SetDTR after Close = %v", err)
	}
	if err := p.SetBaudRate(9600); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("SetBaudRate after Close = %v", err)
	}
}

func TestServerHangupDrainsThenEOF(t *testing.T) {
	h := newRecorder()
	h.onData = func(sc *rfc2217.ServerConn, _ []byte) {
		sc.Write([]byte("bye"))
		sc.Close()
	}
	p := dial(t, serve(t, h))
	p.Write([]byte("?"))
	p.SetReadTimeout(0)
	buf := make([]byte, 10)
	var got []byte
	for {
		n, err := p.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			if !errors.Is(err, io.EOF) || string(got) != "bye" {
				t.Fatalf("got %q then %v; want \"bye\" then EOF", got, err)
			}
			return
		}
	}
}

func TestModemStateNotification(t *testing.T) {
	h := newRecorder()
	p := dial(t, serve(t, h))
	if _, ok := p.ModemState(); ok {
		t.Fatal("modem state before any notification")
	}
	h.mu.Lock()
	sc := h.sc
	h.mu.Unlock()
	if err := sc.SendModemState(0x30); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		if s, ok := p.ModemState(); ok {
			if s != 0x30 {
				t.Fatalf("modem state %#x", s)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no modem state")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConcurrentWritesAndControls(t *testing.T) {
	h := newRecorder()
	p := dial(t, serve(t, h))
	chunk := bytes.Repeat([]byte{0xff, 'a', 0xff}, 100)
	p.SetReadTimeout(time.Millisecond)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		for range 50 {
			p.Write(chunk)
		}
	}()
	go func() {
		defer wg.Done()
		for i := range 100 {
			p.SetDTRRTS(i%2 == 0, i%3 == 0)
		}
	}()
	go func() {
		defer wg.Done()
		for range 20 {
			p.Read(make([]byte, 10))
			p.ModemState()
			p.BaudRate()
		}
	}()
	wg.Wait()
	if err := p.SetBaudRate(230400); err != nil {
		t.Fatal(err)
	}
	log := h.waitLog(t, func(_ []string, rx []byte) bool { return len(rx) >= 50*len(chunk) })
	ctl := 0
	for _, l := range log[len(openLog):] {
		if strings.HasPrefix(l, "ctl:") {
			ctl++
		}
	}
	if _, rx := h.snapshot(); ctl != 200 || !bytes.Equal(rx, bytes.Repeat(chunk, 50)) {
		t.Fatalf("%d control changes (want 200), %d data bytes intact=%v", ctl, len(rx), bytes.Equal(rx, bytes.Repeat(chunk, 50)))
	}
}

func TestNoComPortAgreement(t *testing.T) {
	// A Telnet peer that ignores everything.
	url := rawServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	start := time.Now()
	_, err := rfc2217.Dial(context.Background(), url, rfc2217.WithTimeout(300*time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "did not agree to COM-PORT-OPTION within 300ms") || !strings.Contains(err.Error(), "plain TCP bridge") {
		t.Fatalf("Dial = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
	// The URL's timeout parameter works the same way.
	if _, err := rfc2217.Dial(context.Background(), url+"?timeout=0.2"); err == nil || !strings.Contains(err.Error(), "within 200ms") {
		t.Fatalf("Dial with ?timeout=0.2 = %v", err)
	}
}

func TestComPortRefused(t *testing.T) {
	url := rawServer(t, func(c net.Conn) {
		c.Write([]byte{rfc2217.IAC, rfc2217.DONT, rfc2217.OptComPort})
		io.Copy(io.Discard, c)
	})
	start := time.Now()
	_, err := rfc2217.Dial(context.Background(), url)
	if err == nil || !strings.Contains(err.Error(), "refused COM-PORT-OPTION") {
		t.Fatalf("Dial = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("a refusal should fail fast, took %v", d)
	}
}

func TestPlainEchoServer(t *testing.T) {
	url := rawServer(t, func(c net.Conn) { io.Copy(c, c) })
	start := time.Now()
	_, err := rfc2217.Dial(context.Background(), url)
	if err == nil || !strings.Contains(err.Error(), "plain TCP echo") {
		t.Fatalf("Dial = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("echo detection took %v", d)
	}
}

func TestServerClosesDuringOpen(t *testing.T) {
	url := rawServer(t, func(c net.Conn) { c.Close() })
	_, err := rfc2217.Dial(context.Background(), url)
	if err == nil || !strings.Contains(err.Error(), "closed the connection") {
		t.Fatalf("Dial = %v", err)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = rfc2217.Dial(context.Background(), "rfc2217://"+addr)
	want := fmt.Sprintf("rfc2217://%s: connection refused — is the RFC 2217 server", addr)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Dial = %v", err)
	}
}

func TestDialContextCanceled(t *testing.T) {
	url := rawServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := rfc2217.Dial(ctx, url)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial = %v", err)
	}
}

func TestBadURLs(t *testing.T) {
	for url, want := range map[string]string{
		"socket://127.0.0.1:4000":           "not an RFC 2217 URL",
		"rfc2217://127.0.0.1":               "lacks a host or port",
		"rfc2217://:4000":                   "lacks a host or port",
		"rfc2217://127.0.0.1:99999":         "not a number from 1 to 65535",
		"rfc2217://127.0.0.1:4000?bogus":    `unknown option "bogus"`,
		"rfc2217://127.0.0.1:4000?timeout=": "not a number of seconds",
	} {
		if _, err := rfc2217.Dial(context.Background(), url); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Dial(%q) = %v, want error containing %q", url, err, want)
		}
	}
}

// TestServerNegotiation drives a ServerConn at byte level: the answers to
// what pyserial sends, refusal of an unknown option exactly once, the
// signature, and polls.
func TestServerNegotiation(t *testing.T) {
	a, b := net.Pipe()
	sc := rfc2217.NewServerConn(a, newRecorder())
	go sc.Run()
	defer func() {
		b.Close()
		sc.Close()
		<-sc.Done()
	}()
	var in []byte
	for _, n := range [][2]byte{
		{rfc2217.WILL, rfc2217.OptComPort}, {rfc2217.DO, rfc2217.OptEcho},
		{rfc2217.WILL, rfc2217.OptBinary}, {rfc2217.DO, rfc2217.OptBinary},
		{rfc2217.WILL, rfc2217.OptSGA}, {rfc2217.DO, rfc2217.OptSGA},
		{rfc2217.DO, 99}, {rfc2217.DO, 99}, {rfc2217.WILL, 98},
	} {
		in = rfc2217.AppendNegotiation(in, n[0], n[1])
	}
	in = rfc2217.AppendComPortOption(in, rfc2217.CmdSignature, nil)
	in = rfc2217.AppendComPortOption(in, rfc2217.CmdSignature, []byte("client sig")) // no answer
	in = rfc2217.AppendComPortOption(in, rfc2217.CmdNotifyModemState, nil)
	in = rfc2217.AppendComPortOption(in, rfc2217.CmdNotifyLineState, nil)
	in = rfc2217.AppendComPortOption(in, rfc2217.CmdSetModemStateMask, []byte{0xff})
	in = rfc2217.AppendComPortOption(in, rfc2217.CmdSetLineStateMask, []byte{0})
	in = rfc2217.AppendComPortOption(in, rfc2217.CmdSetBaudRate, []byte{0, 0, 0, 0}) // query

	var want []byte
	for _, n := range [][2]byte{
		{rfc2217.DO, rfc2217.OptComPort}, {rfc2217.WONT, rfc2217.OptEcho},
		{rfc2217.DO, rfc2217.OptBinary}, {rfc2217.WILL, rfc2217.OptBinary},
		{rfc2217.DO, rfc2217.OptSGA}, {rfc2217.WILL, rfc2217.OptSGA},
		{rfc2217.WONT, 99}, {rfc2217.DONT, 98},
	} {
		want = rfc2217.AppendNegotiation(want, n[0], n[1])
	}
	r := rfc2217.ServerReply
	want = rfc2217.AppendComPortOption(want, r+rfc2217.CmdSignature, []byte("iotbench"))
	want = rfc2217.AppendComPortOption(want, r+rfc2217.CmdNotifyModemState, []byte{0})
	want = rfc2217.AppendComPortOption(want, r+rfc2217.CmdNotifyLineState, []byte{0})
	want = rfc2217.AppendComPortOption(want, r+rfc2217.CmdSetModemStateMask, []byte{0xff})
	want = rfc2217.AppendComPortOption(want, r+rfc2217.CmdSetLineStateMask, []byte{0})
	want = rfc2217.AppendComPortOption(want, r+rfc2217.CmdSetBaudRate, []byte{0, 0, 0x25, 0x80}) // 9600

	go b.Write(in)
	got := make([]byte, len(want))
	b.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.ReadFull(b, got); err != nil {
		t.Fatalf("read %q: %v", got, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("server answered\n% x\nwant\n% x", got, want)
	}
}

func TestSmallReads(t *testing.T) {
	h := newRecorder()
	p := dial(t, serve(t, h))
	h.mu.Lock()
	sc := h.sc
	h.mu.Unlock()
	data := allBytes(40)
	go sc.Write(data)
	p.SetReadTimeout(time.Second)
	var got []byte
	for i := 0; len(got) < len(data); i++ {
		buf := make([]byte, 1+i%7)
		n, err := p.Read(buf)
		if err != nil || n == 0 {
			t.Fatalf("Read after %d bytes: %d, %v", len(got), n, err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("data differs")
	}
}

// TestServerSurvivesGarbage sends every subcommand code with missing,
// short and long values plus stray commands; the server must neither
// panic nor stop answering.
func TestServerSurvivesGarbage(t *testing.T) {
	a, b := net.Pipe()
	sc := rfc2217.NewServerConn(a, newRecorder())
	go sc.Run()
	go io.Copy(io.Discard, b)
	defer func() {
		b.Close()
		sc.Close()
		<-sc.Done()
	}()
	var in []byte
	for code := range 256 {
		for _, v := range [][]byte{nil, {0xff}, {1, 2}, bytes.Repeat([]byte{0xff}, 200)} {
			in = rfc2217.AppendComPortOption(in, byte(code), v)
		}
		in = append(in, rfc2217.IAC, byte(code), rfc2217.IAC, rfc2217.SB, byte(code), rfc2217.IAC, rfc2217.SE)
	}
	if _, err := b.Write(in); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sc.Done():
		t.Fatal("server stopped on garbage")
	case <-time.After(10 * time.Millisecond):
	}
}

// TestReflectedRequests covers a Telnet-aware peer that agrees to
// COM-PORT-OPTION but mirrors requests instead of answering them.
func TestReflectedRequests(t *testing.T) {
	url := scriptedServer(t, func(code byte, v []byte) []byte {
		return rfc2217.AppendComPortOption(nil, code, v)
	})
	start := time.Now()
	_, err := rfc2217.Dial(context.Background(), url)
	if err == nil || !strings.Contains(err.Error(), "echo") {
		t.Fatalf("Dial = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v", d)
	}
}
