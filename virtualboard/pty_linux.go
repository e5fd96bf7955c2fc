package virtualboard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// PTY serves the board's UART on a pseudo-terminal, for programs that need
// a device path (esptool, screen, minicom, iotbench --port /dev/pts/N). A
// pty carries no DTR/RTS, so a client opening the port counts as a reset
// (esp-serial-protocol.md §17): into the loader or into the flashed
// application, as configured. The client's baud rate is read from the
// terminal settings the client set (TCGETS2 on the master returns the
// slave's), so a client at the wrong rate reads garbage as it would on a
// real port.
type PTY struct {
	b      *Board
	master *os.File
	fd     int
	path   string
	link   string
	boot   OpenBoot

	mu       sync.Mutex
	open     bool // a client has the slave open
	attached bool // and owns the board's UART
	attachCh chan struct{}

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// PTYOptions configure ServePTYWith.
type PTYOptions struct {
	Boot OpenBoot
	// Link, if set, is a symbolic link made to point at the pty (and
	// removed on Close), so a board that is "unplugged" (Close) and
	// "plugged in again" (a new ServePTY with the same Link) reappears at
	// the same path, like /dev/serial/by-id names do.
	Link string
}

// ServePTY creates the pty and starts bridging it.
func (b *Board) ServePTY(boot OpenBoot) (*PTY, error) {
	return b.ServePTYWith(PTYOptions{Boot: boot})
}

// ServePTYWith creates the pty with options and starts bridging it.
func (b *Board) ServePTYWith(o PTYOptions) (*PTY, error) {
	boot := o.Boot
	master, slave, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("virtual board: creating a pseudo-terminal: %w", err)
	}
	path := slave.Name()
	// Raw mode so a client that does not configure the line (cat, a
	// script) sees bytes, not a line discipline's echo and editing.
	if t, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS); err == nil {
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		t.Cflag &^= unix.CSIZE | unix.PARENB
		t.Cflag |= unix.CS8
		unix.IoctlSetTermios(int(slave.Fd()), unix.TCSETS, t)
	}
	// The board keeps no slave descriptor open: a client's last close
	// must be visible as a hang-up on the master.
	slave.Close()
	fd := int(master.Fd())
	if err := unix.SetNonblock(fd, true); err != nil {
		master.Close()
		return nil, err
	}
	if o.Link != "" {
		os.Remove(o.Link)
		if err := os.Symlink(path, o.Link); err != nil {
			master.Close()
			return nil, fmt.Errorf("virtual board: linking %s to %s: %w", o.Link, path, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &PTY{b: b, master: master, fd: fd, path: path, link: o.Link, boot: boot, cancel: cancel, attachCh: make(chan struct{})}
	p.wg.Add(2)
	go p.fromHost(ctx)
	go p.toHost(ctx)
	return p, nil
}

// Path is the device path clients open (the link, when one was asked for).
func (p *PTY) Path() string {
	if p.link != "" {
		return p.link
	}
	return p.path
}

// Device is the /dev/pts path behind Path.
func (p *PTY) Device() string { return p.path }

// Close stops serving and removes the pty.
func (p *PTY) Close() error {
	p.cancel()
	p.wg.Wait()
	if p.isAttached() {
		p.b.detachHost("pty " + p.path)
	}
	if p.link != "" {
		os.Remove(p.link)
	}
	return p.master.Close()
}

// hostBaud is the rate the client configured on its end.
func (p *PTY) hostBaud() int {
	t, err := unix.IoctlGetTermios(p.fd, unix.TCGETS2)
	if err != nil {
		return 115200
	}
	if t.Ospeed > 0 {
		return int(t.Ospeed)
	}
	return 115200
}

func (p *PTY) setAttached(v bool) {
	p.mu.Lock()
	p.attached = v
	if v {
		close(p.attachCh)
	} else {
		p.attachCh = make(chan struct{})
	}
	p.mu.Unlock()
}

// attachedOrWait returns the channel closed when a client attaches, or nil
// when one is attached now.
func (p *PTY) attachedOrWait() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.attached {
		return nil
	}
	return p.attachCh
}

func (p *PTY) isAttached() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.attached
}

func (p *PTY) fromHost(ctx context.Context) {
	defer p.wg.Done()
	buf := make([]byte, 4096)
	fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
	for ctx.Err() == nil {
		fds[0].Revents = 0
		n, err := unix.Poll(fds, 10)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		hup := fds[0].Revents&unix.POLLHUP != 0
		p.mu.Lock()
		was := p.open
		p.open = !hup
		p.mu.Unlock()
		switch {
		case hup && was:
			p.b.logf("pty: client closed %s", p.path)
			if p.isAttached() {
				p.setAttached(false)
				p.b.detachHost("pty " + p.path)
			}
		case !hup && !p.isAttached():
			// A client has the pty open; it gets the UART as soon as no
			// other transport holds it (an RFC 2217 client may still be
			// finishing its hard reset).
			if err := p.b.attachHost("pty " + p.path); err != nil {
				if !was {
					p.b.logf("pty: %s opened while the UART is busy (%v): waiting", p.path, err)
				}
				break
			}
			p.b.logf("pty: client opened %s", p.path)
			p.setAttached(true)
			p.b.SetLines(false, false)
			switch p.boot {
			case OpenBootDownload:
				p.b.Reset(true)
			case OpenBootFlash:
				p.b.Reset(false)
			}
		}
		if hup {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		if !p.isAttached() {
			// Opened while another transport owns the UART: drain and drop.
			if n > 0 && fds[0].Revents&unix.POLLIN != 0 {
				unix.Read(p.fd, buf)
			}
			time.Sleep(2 * time.Millisecond)
			continue
		}
		if n > 0 && fds[0].Revents&unix.POLLIN != 0 {
			m, err := unix.Read(p.fd, buf)
			if m > 0 {
				p.b.toChip.send(buf[:m], p.hostBaud())
			}
			if err != nil && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EIO) {
				return
			}
		}
	}
}

// hostBuffer is how much the host side of a USB serial adapter holds for a
// program that is slow to read: the kernel's tty flip buffers take up to
// 64 KiB before the driver stops reading the device (Linux
// TTYB_DEFAULT_MEM_LIMIT). Beyond that bytes are lost, as on real hardware.
const hostBuffer = 64 << 10

func (p *PTY) toHost(ctx context.Context) {
	defer p.wg.Done()
	buf := make([]byte, 4096)
	var pending []byte
	for {
		// Only read the board's output while a pty client owns the UART;
		// otherwise another transport is reading it.
		if ch := p.attachedOrWait(); ch != nil {
			pending = pending[:0]
			select {
			case <-ctx.Done():
				return
			case <-ch:
			}
		}
		wait := 50 * time.Millisecond
		if len(pending) > 0 {
			wait = time.Millisecond
		}
		n, err := p.b.toHost.recv(ctx, buf, rxState{baud: p.hostBaud}, wait)
		if err != nil {
			return
		}
		if n > 0 && p.isAttached() {
			room := hostBuffer - len(pending)
			if n > room {
				p.b.addDropped(n - max(room, 0))
				n = max(room, 0)
			}
			pending = append(pending, buf[:n]...)
		}
		for len(pending) > 0 {
			m, err := unix.Write(p.fd, pending)
			if m > 0 {
				pending = pending[m:]
			}
			if err != nil {
				if !errors.Is(err, unix.EAGAIN) {
					pending = pending[:0] // EIO: the client went away
				}
				break
			}
		}
		if len(pending) == 0 {
			pending = nil
		}
	}
}
