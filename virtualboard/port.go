package virtualboard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/iotbench/iotbench/flasher"
)

// HostPort is the host end of the board's UART, in-process: what a USB
// serial adapter gives a program, with DTR/RTS wired to the board's
// auto-reset circuit. It implements flasher.Port and
// flasher.LinePairSetter.
type HostPort struct {
	b *Board

	mu      sync.Mutex
	baud    int
	timeout time.Duration
	closed  bool
	ctx     context.Context
	cancel  context.CancelFunc
	dtr     bool
}

var (
	_ flasher.Port           = (*HostPort)(nil)
	_ flasher.LinePairSetter = (*HostPort)(nil)
)

// ErrBusy: the board's UART already has a host attached.
var ErrBusy = errors.New("virtual board: its serial port is already open")

// Port opens the host end at 115200 baud. Only one host at a time, as
// with a real port opened exclusively.
func (b *Board) Port() (*HostPort, error) {
	if err := b.attachHost("in-process port"); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &HostPort{b: b, baud: 115200, timeout: -1, ctx: ctx, cancel: cancel}, nil
}

func (p *HostPort) String() string { return "virtual board (in-process)" }

func (p *HostPort) state() (int, time.Duration, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, 0, io.ErrClosedPipe
	}
	return p.baud, p.timeout, nil
}

// Read returns bytes the board sent, garbled if the two baud rates differ.
func (p *HostPort) Read(buf []byte) (int, error) {
	baud, timeout, err := p.state()
	if err != nil {
		return 0, err
	}
	n, err := p.b.toHost.recv(p.ctx, buf, rxState{baud: func() int { return baud }}, timeout)
	if err != nil {
		if p.ctx.Err() != nil {
			return n, io.ErrClosedPipe
		}
		return n, fmt.Errorf("virtual board: %w", err)
	}
	return n, nil
}

// Write transmits to the board at the port's baud; it returns at once.
func (p *HostPort) Write(buf []byte) (int, error) {
	baud, _, err := p.state()
	if err != nil {
		return 0, err
	}
	p.b.toChip.send(buf, baud)
	return len(buf), nil
}

func (p *HostPort) SetReadTimeout(d time.Duration) error {
	p.mu.Lock()
	p.timeout = d
	p.mu.Unlock()
	return nil
}

func (p *HostPort) SetBaudRate(baud int) error {
	if baud <= 0 {
		return fmt.Errorf("invalid baud rate %d", baud)
	}
	p.mu.Lock()
	p.baud = baud
	p.mu.Unlock()
	return nil
}

func (p *HostPort) BaudRate() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.baud
}

func (p *HostPort) SetDTR(v bool) error {
	if _, _, err := p.state(); err != nil {
		return err
	}
	p.mu.Lock()
	p.dtr = v
	p.mu.Unlock()
	p.b.SetDTR(v)
	return nil
}

func (p *HostPort) SetRTS(v bool) error {
	if _, _, err := p.state(); err != nil {
		return err
	}
	p.b.SetRTS(v)
	return nil
}

// USBIDs reports the USB IDs of a board whose host port is the chip's
// USB-Serial/JTAG controller (Espressif's VID 303A, PID 1001), so a
// flasher picks esptool's USB reset sequence; a board behind a USB-UART
// bridge reports none here (ok false).
func (p *HostPort) USBIDs() (vid, pid uint16, ok bool) {
	if !p.b.cfg.USBJTAGSerial {
		return 0, 0, false
	}
	return 0x303A, p.b.chip.USBJTAGSerialPID, true
}

// SetDTRRTS changes both lines at once (one TIOCMSET on a real port).
func (p *HostPort) SetDTRRTS(dtr, rts bool) error {
	if _, _, err := p.state(); err != nil {
		return err
	}
	p.b.SetLines(dtr, rts)
	return nil
}

// ResetInputBuffer discards what has arrived and was not read.
func (p *HostPort) ResetInputBuffer() error {
	if _, _, err := p.state(); err != nil {
		return err
	}
	p.b.toHost.purge()
	return nil
}

// Close releases the port. Like closing a real adapter (HUPCL), DTR and
// RTS drop to deasserted, which on the auto-reset circuit resets nothing.
func (p *HostPort) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.b.SetLines(false, false)
	p.b.detachHost("in-process port")
	return nil
}
