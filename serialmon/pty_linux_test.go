package serialmon

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/iotbench/iotbench/flasher"
)

// openPTY creates a pseudo-terminal and returns its master and slave path.
// The test's own slave descriptor stays open until the test ends, so the
// master never sees a hang-up in between; ptyMasterOnly closes it.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() {
		s.Close()
		m.Close()
	})
	return m, s
}

// masterTermios returns the line settings as seen from the master: on
// Linux TCGETS2 on a pty master answers with the slave's termios, speeds
// included. This is what the virtual board reads to follow the client's
// baud rate.
func masterTermios(t *testing.T, m *os.File) *unix.Termios {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(m.Fd()), unix.TCGETS2)
	if err != nil {
		t.Fatalf("TCGETS2 on the master: %v", err)
	}
	return tio
}

func readMaster(t *testing.T, m *os.File, n int) []byte {
	t.Helper()
	if err := m.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
		t.Fatalf("master read deadline: %v", err)
	}
	var got []byte
	buf := make([]byte, 64)
	for len(got) < n {
		k, err := m.Read(buf)
		got = append(got, buf[:k]...)
		if err != nil {
			t.Fatalf("master read after %q: %v", got, err)
		}
	}
	return got
}

// waitInput waits until the slave's input queue holds n bytes: writes to
// the master reach it through a kernel work queue, not synchronously.
func waitInput(t *testing.T, s *os.File, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		q, err := unix.IoctlGetInt(int(s.Fd()), unix.TIOCINQ)
		if err != nil {
			t.Fatalf("TIOCINQ: %v", err)
		}
		if q >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("slave input queue holds %d bytes; want %d", q, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestOpenPTY(t *testing.T) {
	m, s := openPTY(t)
	path := s.Name()
	if !isPseudoTerminal(path) {
		t.Fatalf("%s not recognised as a pseudo-terminal", path)
	}
	if isPseudoTerminal(os.DevNull) {
		t.Fatalf("%s recognised as a pseudo-terminal", os.DevNull)
	}

	p, err := Open(context.Background(), path, 115200)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got := p.BaudRate(); got != 115200 {
		t.Errorf("BaudRate() = %d; want 115200", got)
	}
	if tio := masterTermios(t, m); tio.Ispeed != 115200 || tio.Ospeed != 115200 || tio.Cflag&unix.CBAUD != unix.B115200 ||
		tio.Cflag&unix.CSIZE != unix.CS8 || tio.Cflag&(unix.PARENB|unix.CSTOPB|unix.CRTSCTS) != 0 {
		t.Errorf("after Open: cflag %#o, speeds %d/%d; want 115200 8N1 without flow control", tio.Cflag, tio.Ispeed, tio.Ospeed)
	}
	checkCloseOnExec(t, path)
	if _, ok := p.(flasher.LinePairSetter); ok {
		t.Error("a local port claims to set DTR and RTS in one operation")
	}
	if _, _, ok := p.(flasher.USBPort).USBIDs(); ok {
		t.Error("a pseudo-terminal has USB IDs")
	}

	// Both directions, all byte values: the line must be raw.
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	if _, err := m.Write(all); err != nil {
		t.Fatal(err)
	}
	p.SetReadTimeout(2 * time.Second)
	if got := readN(t, p, len(all)); string(got) != string(all) {
		t.Errorf("read %x; want %x", got, all)
	}
	if _, err := p.Write(all); err != nil {
		t.Fatal(err)
	}
	if got := readMaster(t, m, len(all)); string(got) != string(all) {
		t.Errorf("master read %x; want %x", got, all)
	}

	// A read timeout returns 0, nil.
	p.SetReadTimeout(50 * time.Millisecond)
	start := time.Now()
	n, err := p.Read(make([]byte, 16))
	if n != 0 || err != nil {
		t.Errorf("Read with nothing to read = %d, %v; want 0, nil", n, err)
	}
	if d := time.Since(start); d < 40*time.Millisecond || d > time.Second {
		t.Errorf("Read with a 50 ms timeout returned after %v", d)
	}

	// Zero means no timeout, as for an rfc2217 port: Read waits for data.
	p.SetReadTimeout(0)
	type result struct {
		b   []byte
		err error
	}
	res := make(chan result, 1)
	go func() {
		buf := make([]byte, 16)
		n, err := p.Read(buf)
		res <- result{buf[:n], err}
	}()
	time.Sleep(100 * time.Millisecond)
	select {
	case r := <-res:
		t.Fatalf("Read without timeout returned %q, %v before data came", r.b, r.err)
	default:
	}
	m.Write([]byte("late"))
	if r := <-res; string(r.b) != "late" || r.err != nil {
		t.Errorf("Read without timeout = %q, %v; want \"late\"", r.b, r.err)
	}

	// Non-standard and high rates, as the master sees them.
	for _, tt := range []struct {
		baud  int
		cbaud uint32
	}{
		{74880, unix.BOTHER},
		{921600, unix.B921600},
		{74880, unix.BOTHER},
		{115200, unix.B115200},
		{1500000, unix.B1500000},
		{250000, unix.BOTHER},
	} {
		if err := p.SetBaudRate(tt.baud); err != nil {
			t.Fatalf("SetBaudRate(%d): %v", tt.baud, err)
		}
		if got := p.BaudRate(); got != tt.baud {
			t.Errorf("BaudRate() = %d; want %d", got, tt.baud)
		}
		tio := masterTermios(t, m)
		if tio.Ispeed != uint32(tt.baud) || tio.Ospeed != uint32(tt.baud) || tio.Cflag&unix.CBAUD != tt.cbaud {
			t.Errorf("after SetBaudRate(%d) the master sees cflag %#o (CBAUD %#o), speeds %d/%d; want CBAUD %#o",
				tt.baud, tio.Cflag, tio.Cflag&unix.CBAUD, tio.Ispeed, tio.Ospeed, tt.cbaud)
		}
		if tio.Cflag&unix.CSIZE != unix.CS8 || tio.Cflag&(unix.PARENB|unix.CSTOPB) != 0 {
			t.Errorf("after SetBaudRate(%d) the line is not 8N1: cflag %#o", tt.baud, tio.Cflag)
		}
	}
	if err := p.SetBaudRate(0); err == nil {
		t.Error("SetBaudRate(0) succeeded")
	}

	// No modem lines on a pty.
	for name, set := range map[string]func(bool) error{"DTR": p.SetDTR, "RTS": p.SetRTS} {
		for _, v := range []bool{true, false} {
			if err := set(v); !errors.Is(err, flasher.ErrNoModemLines) {
				t.Errorf("Set%s(%v) = %v; want an error wrapping flasher.ErrNoModemLines", name, v, err)
			}
		}
	}

	// ResetInputBuffer drops what arrived and was not read.
	m.Write([]byte("stale"))
	waitInput(t, s, 5)
	if err := p.ResetInputBuffer(); err != nil {
		t.Fatal(err)
	}
	p.SetReadTimeout(50 * time.Millisecond)
	if n, err := p.Read(make([]byte, 16)); n != 0 || err != nil {
		t.Errorf("Read after ResetInputBuffer = %d, %v; want 0, nil", n, err)
	}
	m.Write([]byte("fresh"))
	p.SetReadTimeout(2 * time.Second)
	if got := readN(t, p, 5); string(got) != "fresh" {
		t.Errorf("read %q after ResetInputBuffer; want \"fresh\"", got)
	}

	// Close ends everything; a second Close is harmless.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := p.Read(make([]byte, 1)); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Read after Close = %v; want fs.ErrClosed", err)
	}
	if _, err := p.Write([]byte("x")); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Write after Close = %v; want fs.ErrClosed", err)
	}
	for name, err := range map[string]error{
		"SetBaudRate":      p.SetBaudRate(9600),
		"SetDTR":           p.SetDTR(false),
		"ResetInputBuffer": p.ResetInputBuffer(),
	} {
		if !errors.Is(err, fs.ErrClosed) {
			t.Errorf("%s after Close = %v; want fs.ErrClosed", name, err)
		}
	}
}

// TestClosePTYUnblocksRead: Close ends a Read that waits without timeout.
func TestClosePTYUnblocksRead(t *testing.T) {
	_, s := openPTY(t)
	p, err := Open(context.Background(), s.Name(), 115200)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := p.Read(make([]byte, 1))
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, fs.ErrClosed) {
			t.Errorf("blocked Read ended with %v; want fs.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not end a blocked Read")
	}
}

// TestPTYMasterGone: when the far end (a virtual board) closes the master,
// Read reports ErrPortGone, so a monitor knows to reopen.
func TestPTYMasterGone(t *testing.T) {
	m, s := openPTY(t)
	p, err := Open(context.Background(), s.Name(), 115200)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	m.Close()
	p.SetReadTimeout(time.Second)
	if _, err := p.Read(make([]byte, 1)); !errors.Is(err, ErrPortGone) {
		t.Errorf("Read after the master closed = %v; want ErrPortGone", err)
	}
}

// checkCloseOnExec fails the test if a descriptor of path would be
// inherited by a program started now.
func checkCloseOnExec(t *testing.T, path string) {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	found := 0
	for _, e := range ents {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil || target != path {
			continue
		}
		found++
		fd, _ := strconv.Atoi(e.Name())
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			t.Fatal(err)
		}
		if flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("descriptor %d of %s is not close-on-exec", fd, path)
		}
	}
	if found < 2 { // the test's own slave descriptor and the port's
		t.Errorf("found %d descriptors of %s; want at least 2", found, path)
	}
}

func pollHUP(t *testing.T, fd int) bool {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if _, err := unix.Poll(fds, 0); err != nil {
		t.Fatal(err)
	}
	return fds[0].Revents&unix.POLLHUP != 0
}

// TestPTYHangupOnMaster documents what the virtual board relies on to see a
// client close and reopen the port (its stand-in for a reset): poll() on
// the master reports POLLHUP while no descriptor of the slave is open, and
// not once one is. Open must open a pty exactly once for the same reason.
func TestPTYHangupOnMaster(t *testing.T) {
	m, s := openPTY(t)
	path := s.Name()
	mfd := int(m.Fd())
	if pollHUP(t, mfd) {
		t.Fatal("POLLHUP on the master while the slave is open")
	}
	s.Close()
	if !pollHUP(t, mfd) {
		t.Fatal("no POLLHUP on the master after the last slave descriptor closed")
	}
	p, err := Open(context.Background(), path, 74880)
	if err != nil {
		t.Fatal(err)
	}
	if pollHUP(t, mfd) {
		t.Error("POLLHUP still set after Open reopened the slave")
	}
	if tio := masterTermios(t, m); tio.Ospeed != 74880 {
		t.Errorf("master sees %d baud after Open at 74880", tio.Ospeed)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if !pollHUP(t, mfd) {
		t.Error("no POLLHUP on the master after Close")
	}
	// Only the last close counts.
	a, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if pollHUP(t, mfd) {
		t.Error("POLLHUP while one slave descriptor is still open")
	}
	b.Close()
	if !pollHUP(t, mfd) {
		t.Error("no POLLHUP after the last of two slave descriptors closed")
	}
}

// TestPTYNeverOpenedNoHangup documents the other half: a master whose slave
// has never been opened reports no POLLHUP, so "no hang-up" alone does not
// mean a client is attached. (creack/pty opens the slave in pty.Open, so a
// board that closes that descriptor starts in the hung-up state.)
func TestPTYNeverOpenedNoHangup(t *testing.T) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no /dev/ptmx: %v", err)
	}
	defer unix.Close(fd)
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	if pollHUP(t, fd) {
		t.Error("POLLHUP on a fresh master whose slave was never opened")
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if !pollHUP(t, fd) {
		t.Error("no POLLHUP after the first slave open and close")
	}
}
