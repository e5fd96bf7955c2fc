package flasher

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// BeforeMode is what to do to get the chip into its loader (--before).
type BeforeMode string

const (
	BeforeDefaultReset  BeforeMode = "default-reset"
	BeforeUSBReset      BeforeMode = "usb-reset"
	BeforeNoReset       BeforeMode = "no-reset"
	BeforeNoResetNoSync BeforeMode = "no-reset-no-sync"
	defaultResetDelay              = 50 * time.Millisecond  // esptool DEFAULT_RESET_DELAY (§6.1)
	extraResetDelay                = 550 * time.Millisecond // + 0.5 s for slow EN circuits
	resetHold                      = 100 * time.Millisecond
)

// AfterMode is what to do when the job is done (--after, §11).
type AfterMode string

const (
	AfterHardReset   AfterMode = "hard-reset"
	AfterSoftReset   AfterMode = "soft-reset"
	AfterNoReset     AfterMode = "no-reset"
	AfterNoResetStub AfterMode = "no-reset-stub"
)

// ParseBefore accepts esptool's spellings (underscores or dashes).
func ParseBefore(s string) (BeforeMode, error) {
	m := BeforeMode(strings.ReplaceAll(strings.ToLower(s), "_", "-"))
	switch m {
	case BeforeDefaultReset, BeforeUSBReset, BeforeNoReset, BeforeNoResetNoSync:
		return m, nil
	}
	return "", fmt.Errorf("unknown --before %q: use default-reset, usb-reset, no-reset or no-reset-no-sync", s)
}

// ParseAfter accepts esptool's spellings (underscores or dashes).
func ParseAfter(s string) (AfterMode, error) {
	m := AfterMode(strings.ReplaceAll(strings.ToLower(s), "_", "-"))
	switch m {
	case AfterHardReset, AfterSoftReset, AfterNoReset, AfterNoResetStub:
		return m, nil
	}
	return "", fmt.Errorf("unknown --after %q: use hard-reset, soft-reset, no-reset or no-reset-stub", s)
}

// resetStrategy drives DTR/RTS to put the chip into its serial loader.
// Dev boards wire RTS to EN and DTR to GPIO0 through two transistors, both
// active-low, so "asserted" pulls the pin to 0 V (§6.1).
type resetStrategy struct {
	name string
	run  func(p Port, sleep func(time.Duration)) error
}

// lineDriver tracks DTR so RTS changes can re-apply it: esptool does that
// for Windows usbser.sys, which only sends both lines together (§6.1).
type lineDriver struct {
	p   Port
	dtr bool
}

func (d *lineDriver) setDTR(v bool) error { d.dtr = v; return d.p.SetDTR(v) }
func (d *lineDriver) setRTS(v bool) error {
	if err := d.p.SetRTS(v); err != nil {
		return err
	}
	return d.p.SetDTR(d.dtr)
}

// setBoth changes both lines in one operation when the port can (one
// TIOCMSET), else DTR then RTS back to back.
func (d *lineDriver) setBoth(dtr, rts bool) error {
	d.dtr = dtr
	if ps, ok := d.p.(LinePairSetter); ok {
		return ps.SetDTRRTS(dtr, rts)
	}
	if err := d.p.SetDTR(dtr); err != nil {
		return err
	}
	return d.p.SetRTS(rts)
}

func classicReset(delay time.Duration) resetStrategy {
	return resetStrategy{
		name: fmt.Sprintf("classic(%v)", delay),
		run: func(p Port, sleep func(time.Duration)) error {
			d := &lineDriver{p: p}
			return seq(
				func() error { return d.setDTR(false) }, // IO0 high
				func() error { return d.setRTS(true) },  // EN low: in reset
				func() error { sleep(resetHold); return nil },
				func() error { return d.setDTR(true) },  // IO0 low
				func() error { return d.setRTS(false) }, // EN high: chip starts, samples IO0
				func() error { sleep(delay); return nil },
				func() error { return d.setDTR(false) }, // release IO0
			)
		},
	}
}

func tightReset(delay time.Duration) resetStrategy {
	return resetStrategy{
		name: fmt.Sprintf("unix-tight(%v)", delay),
		run: func(p Port, sleep func(time.Duration)) error {
			d := &lineDriver{p: p}
			return seq(
				func() error { return d.setBoth(false, false) },
				func() error { return d.setBoth(true, true) },
				func() error { return d.setBoth(false, true) }, // in reset
				func() error { sleep(resetHold); return nil },
				func() error { return d.setBoth(true, false) }, // out of reset, IO0 low
				func() error { sleep(delay); return nil },
				func() error { return d.setBoth(false, false) },
				func() error { return d.setDTR(false) },
			)
		},
	}
}

func usbJTAGReset() resetStrategy {
	return resetStrategy{
		name: "usb-jtag-serial",
		run: func(p Port, sleep func(time.Duration)) error {
			d := &lineDriver{p: p}
			return seq(
				func() error { return d.setRTS(false) },
				func() error { return d.setDTR(false) },
				func() error { sleep(100 * time.Millisecond); return nil },
				func() error { return d.setDTR(true) },
				func() error { return d.setRTS(false) },
				func() error { sleep(100 * time.Millisecond); return nil },
				func() error { return d.setRTS(true) },
				func() error { return d.setDTR(false) },
				func() error { return d.setRTS(true) },
				func() error { sleep(100 * time.Millisecond); return nil },
				func() error { return d.setDTR(false) },
				func() error { return d.setRTS(false) },
			)
		},
	}
}

// hardReset pulses EN with IO0 released so the chip boots from flash.
func hardReset(p Port, usb bool, sleep func(time.Duration)) error {
	d := &lineDriver{p: p}
	hold := 100 * time.Millisecond
	if usb {
		hold = 200 * time.Millisecond
	}
	if err := d.setDTR(false); err != nil {
		return err
	}
	if err := d.setRTS(true); err != nil {
		return err
	}
	sleep(hold)
	if err := d.setRTS(false); err != nil {
		return err
	}
	if usb {
		sleep(200 * time.Millisecond)
	}
	return nil
}

func seq(steps ...func() error) error {
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

// isNoLines reports a port without modem lines (a pty).
func isNoLines(err error) bool { return errors.Is(err, ErrNoModemLines) }

// RemotePort is implemented by ports that reach the chip over a network
// (rfc2217://). esptool never uses the tight reset there: line changes
// cross the network one message at a time (§6.1).
type RemotePort interface{ IsRemote() bool }

// USBPort is implemented by ports that know their USB IDs; a PID of 0x1001
// means the chip's own USB-JTAG-serial bridge, which needs its own reset.
type USBPort interface {
	USBIDs() (vid, pid uint16, ok bool)
}

// strategiesFor picks the reset sequence esptool would use (§6.1).
func strategiesFor(p Port, mode BeforeMode) []resetStrategy {
	if mode == BeforeUSBReset {
		return []resetStrategy{usbJTAGReset()}
	}
	if u, ok := p.(USBPort); ok {
		if _, pid, ok := u.USBIDs(); ok && pid == 0x1001 {
			return []resetStrategy{usbJTAGReset()}
		}
	}
	if r, ok := p.(RemotePort); ok && r.IsRemote() {
		return []resetStrategy{classicReset(defaultResetDelay), classicReset(extraResetDelay)}
	}
	return []resetStrategy{
		tightReset(defaultResetDelay), tightReset(extraResetDelay),
		classicReset(defaultResetDelay), classicReset(extraResetDelay),
	}
}

// HardReset pulses EN with GPIO0 released so the chip boots its
// application, as esptool's --after hard_reset does (§6.1, §11). Ports
// without modem lines return an error wrapping ErrNoModemLines.
func HardReset(p Port) error {
	usb := false
	if u, ok := p.(USBPort); ok {
		_, pid, ok := u.USBIDs()
		usb = ok && pid == 0x1001
	}
	return hardReset(p, usb, time.Sleep)
}

// ResetIntoBootloader runs the first reset sequence esptool would try on
// this port (unix-tight, classic over a network, USB-JTAG-serial for the
// chip's own USB), leaving the chip in its ROM loader.
func ResetIntoBootloader(p Port) error {
	return strategiesFor(p, BeforeDefaultReset)[0].run(p, time.Sleep)
}
