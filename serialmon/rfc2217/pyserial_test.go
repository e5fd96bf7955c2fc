package rfc2217_test

import (
	"bufio"
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/iotbench/iotbench/serialmon/rfc2217"
)

// pyserialPython returns a Python interpreter that can import pyserial,
// or skips the test: pyserial is an external peer, not part of this
// module, and CI machines may lack it.
func pyserialPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		path, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import serial.rfc2217").Run() == nil {
			return path
		}
	}
	t.Skip("pyserial is not installed (python3 -c 'import serial' fails); install python3-serial or `pip install pyserial` to run the interop test")
	return ""
}

// pyClient is what esptool does with an rfc2217:// port, condensed: open,
// change the baud rate, toggle DTR/RTS, flush, write and read back.
const pyClient = `
import sys, serial
s = serial.serial_for_url(sys.argv[1], baudrate=115200, timeout=3)
s.baudrate = 460800
for dtr, rts in [(False, True), (True, False), (False, False)]:
    s.dtr = dtr
    s.rts = rts
s.reset_input_buffer()
data = bytes(range(256)) * 8 + b"\xff\xff"
s.write(data)
got = b""
while len(got) < len(data):
    chunk = s.read(len(data) - len(got))
    if not chunk:
        break
    got += chunk
if got != data:
    sys.exit("echo mismatch: sent %d bytes, read %d" % (len(data), len(got)))
s.close()
print("OK", serial.__version__)
`

func TestPyserialClientInterop(t *testing.T) {
	py := pyserialPython(t)
	h := newRecorder()
	h.echo = true
	url := serve(t, h)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "-c", pyClient, url).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		log, _ := h.snapshot()
		t.Fatalf("pyserial client: %v\n%s\nhandler log: %q", err, out, log)
	}
	t.Logf("pyserial: %s", bytes.TrimSpace(out))

	log, rx := h.snapshot()
	want := []string{"baud:460800", "ctl:9", "ctl:11", "ctl:8", "ctl:12", "ctl:9", "ctl:12", "purge:1"}
	i := 0
	for _, l := range log {
		if i < len(want) && l == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Fatalf("handler log %q lacks the sequence %q", log, want)
	}
	if len(rx) != 256*8+2 {
		t.Fatalf("server received %d bytes", len(rx))
	}
}

// pyServer serves one connection with pyserial's own RFC 2217 server half
// (which esptool's esp_rfc2217_server builds on) over a loop:// port that
// echoes what it is sent.
const pyServer = `
import socket, sys, threading, serial, serial.rfc2217
ser = serial.serial_for_url("loop://", timeout=0.05)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
print(srv.getsockname()[1], flush=True)
srv.settimeout(30)
conn, _ = srv.accept()
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
lock = threading.Lock()
class Net:
    def write(self, data):
        with lock:
            conn.sendall(data)
net = Net()
pm = serial.rfc2217.PortManager(ser, net)
alive = True
def pump():
    while alive:
        data = ser.read(4096)
        if data:
            try:
                net.write(b"".join(pm.escape(data)))
            except OSError:
                return
t = threading.Thread(target=pump, daemon=True)
t.start()
while True:
    data = conn.recv(4096)
    if not data:
        break
    ser.write(b"".join(pm.filter(data)))
alive = False
t.join()
print("baud=%d dtr=%s rts=%s" % (ser.baudrate, ser.dtr, ser.rts), flush=True)
`

func TestPyserialServerInterop(t *testing.T) {
	py := pyserialPython(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", pyServer)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cancel()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() {
		t.Fatalf("pyserial server did not start: %s", stderr.String())
	}
	p, err := rfc2217.Dial(ctx, "rfc2217://127.0.0.1:"+strings.TrimSpace(lines.Text()))
	if err != nil {
		t.Fatalf("Dial against pyserial's server: %v\n%s", err, stderr.String())
	}
	defer p.Close()

	if err := p.SetBaudRate(921600); err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() error{
		func() error { return p.SetDTR(false) },
		func() error { return p.SetRTS(true) },
		func() error { return p.SetDTRRTS(true, false) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.ResetInputBuffer(); err != nil {
		t.Fatal(err)
	}
	data := allBytes(8)
	if _, err := p.Write(data); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, p, len(data)); !bytes.Equal(got, data) {
		t.Fatal("loop:// echo through pyserial's server differs")
	}
	if err := p.ResetInputBuffer(); err != nil { // also collects control acks
		t.Fatal(err)
	}
	if _, ok := p.ModemState(); !ok {
		t.Error("pyserial's server sends NOTIFY-MODEMSTATE on agreement; none seen")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if !lines.Scan() {
		t.Fatalf("no final state from the server: %s", stderr.String())
	}
	if got, want := lines.Text(), "baud=921600 dtr=True rts=False"; got != want {
		t.Fatalf("server port state %q, want %q", got, want)
	}
}
