package virtualboard

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/iotbench/iotbench/flasher/target"
)

// Config describes a virtual board.
type Config struct {
	// Chip is "ESP8266" (default) or an ESP32-family name, each with its
	// own ROM loader personality.
	Chip string
	// MAC of the station interface. Zero = 18:fe:34:ab:34:5a.
	MAC [6]byte
	// FlashSize in bytes (default 4 MiB: W25Q32, JEDEC EF 40 16).
	FlashSize   int
	FlashTiming *FlashTiming
	// Speed-up of the board's clock (default 1 = real time).
	Speed float64
	// CrystalMHz: 26 (default) makes the ESP8266 ROM print at 74880 baud.
	CrystalMHz int
	// NoAutoReset models a board without the DTR/RTS transistor pair
	// (bare modules): the host's lines then do nothing and only the
	// buttons (PressReset, HoldBoot) change what the chip does.
	NoAutoReset bool
	// StrapSample is how long after EN rises the chip samples its strapping
	// pins (real time; default 2 ms). It stands for the RC delay on EN and
	// must stay below esptool's 50 ms IO0 hold (§6.1) for resets to work.
	StrapSample time.Duration
	// OpenResetDownload: when a pseudo-terminal client opens the port
	// (which a pty cannot signal with DTR/RTS), reset into download mode
	// (true, default for the pty transport) rather than booting flash.
	OpenBoot OpenBoot
	// NoSecurityInfo models an ESP32-family ROM revision that predates
	// GET_SECURITY_INFO, so the host must tell the chip by its magic value.
	NoSecurityInfo bool
	// ROMCrystalHz is the crystal frequency the original ESP32's ROM
	// believes in after calibrating its 8 MHz RC clock, reported through
	// RTCCALICFG1 and used for CHANGE_BAUDRATE's divider (§6.6). 0 means
	// the crystal plus defaultESP32ROMClockError. Other chips ignore it.
	ROMCrystalHz float64
	// USBJTAGSerial connects the host to the chip's built-in USB-Serial/
	// JTAG controller (USB 303A:1001) instead of UART0 behind a USB bridge
	// with the DTR/RTS transistor pair: the lines then reach the
	// controller's reset logic, and the port ignores baud rates (USB
	// CDC-ACM). Only chips that have the controller (S3, C3, C6, H2, …).
	USBJTAGSerial bool
	// Noise on the wire, both directions.
	Noise Noise
	// App runs after the ROM has loaded a valid image from flash; nil
	// means the board idles there (nothing emulates the image's code).
	App App
	// Log receives board-side diagnostics (nil = none).
	Log func(string)
}

// defaultESP32ROMClockError is how far the virtual ESP32 ROM's crystal
// estimate is off by default (+4%). Real chips drift by a chip-dependent
// amount — enough on some that esptool compensates for it on every ESP32
// (targets/esp32.py change_baud: "workaround to avoid esp32 CK_8M
// frequency drift"). 4% is outside the UART's ±3% tolerance (uart.go), so
// a flasher that sends the plain rate talks to a garbled line and one
// that compensates works: the difference is observable.
const defaultESP32ROMClockError = 0.04

// OpenBoot says what a pty open (a reset, since a pty has no modem lines) does.
type OpenBoot int

const (
	OpenBootDownload OpenBoot = iota // reset into the ROM loader (esptool works on the pty)
	OpenBootFlash                    // reset and boot from flash (a monitor sees the boot log)
	OpenBootNone                     // do nothing
)

// Board is one virtual board: chip, flash, UART0 and reset circuit.
type Board struct {
	cfg            Config
	chip           *target.Chip
	clk            *Clock
	flash          *Flash
	toChip, toHost *line

	mu       sync.Mutex
	dtr, rts bool // host lines, true = asserted (pin low)
	resetBtn bool
	bootBtn  bool
	enHigh   bool
	resetGen int // bumps on every EN falling edge
	strap    int // boot mode A latched at the last hardware reset
	uartBaud int
	mute     bool
	garbage  bool
	cpu      *cpuRun
	host     string // which transport owns the UART's host end ("" = none)
	dropped  int64
	cause    int
	closed   bool
	events   []string
	// USB-Serial/JTAG controller state (Config.USBJTAGSerial).
	usbLines    [2]bool // last (DTR, RTS) seen
	usbDownload bool    // the download-mode flag the ROM reads at reset

	wg sync.WaitGroup
}

type cpuRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// New builds and powers on a board.
func New(cfg Config) (*Board, error) {
	if cfg.Chip == "" {
		cfg.Chip = "ESP8266"
	}
	chip, err := target.ByName(cfg.Chip)
	if err != nil {
		return nil, err
	}
	if cfg.USBJTAGSerial && chip.USBJTAGSerialPID == 0 {
		return nil, fmt.Errorf("the %s has no USB-Serial/JTAG controller: drop USBJTAGSerial (its boards use a USB-UART bridge)", chip.Name)
	}
	if cfg.MAC == ([6]byte{}) {
		cfg.MAC = [6]byte{0x18, 0xFE, 0x34, 0xAB, 0x34, 0x5A}
	}
	if cfg.FlashSize == 0 {
		cfg.FlashSize = 4 << 20
	}
	if cfg.CrystalMHz == 0 {
		cfg.CrystalMHz = 26
		if !chip.IsESP8266() {
			cfg.CrystalMHz = 40
		}
	}
	if cfg.StrapSample == 0 {
		cfg.StrapSample = 2 * time.Millisecond
	}
	timing := W25Q32JVTiming
	if cfg.FlashTiming != nil {
		timing = *cfg.FlashTiming
	}
	clk := NewClock(cfg.Speed)
	fl, err := NewFlash(clk, cfg.FlashSize, timing)
	if err != nil {
		return nil, err
	}
	b := &Board{cfg: cfg, chip: chip, clk: clk, flash: fl, toChip: newLine(clk), toHost: newLine(clk)}
	if cfg.USBJTAGSerial {
		b.toChip.fixedBaud, b.toHost.fixedBaud = usbCDCBaud, usbCDCBaud
	}
	b.SetNoise(cfg.Noise)
	// Power-on: EN comes up with the supply; no host lines are asserted.
	b.mu.Lock()
	b.enHigh = true
	b.mu.Unlock()
	b.scheduleBootWith(1, 0)
	return b, nil
}

// Chip is the modelled chip.
func (b *Board) Chip() *target.Chip { return b.chip }

// Flash is the board's flash chip.
func (b *Board) Flash() *Flash { return b.flash }

// Clock is the board's clock.
func (b *Board) Clock() *Clock { return b.clk }

// MAC is the board's station MAC.
func (b *Board) MAC() [6]byte { return b.cfg.MAC }

// SetNoise changes line noise in both directions.
func (b *Board) SetNoise(n Noise) {
	b.toChip.noise.set(n)
	n2 := n
	n2.Seed = n.Seed ^ 0xA5A5A5A5
	b.toHost.noise.set(n2)
}

// NoiseStats reports bytes dropped and corrupted so far (both directions).
func (b *Board) NoiseStats() (dropped, corrupted int) {
	for _, l := range []*line{b.toChip, b.toHost} {
		l.noise.mu.Lock()
		dropped += l.noise.dropped
		corrupted += l.noise.corrupted
		l.noise.mu.Unlock()
	}
	return
}

// SetMute makes the chip stop answering (it still receives).
func (b *Board) SetMute(on bool) { b.mu.Lock(); b.mute = on; b.mu.Unlock() }

// SetGarbage makes the chip answer every frame with random bytes.
func (b *Board) SetGarbage(on bool) { b.mu.Lock(); b.garbage = on; b.mu.Unlock() }

func (b *Board) logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.mu.Lock()
	b.events = append(b.events, msg)
	if len(b.events) > 256 {
		b.events = b.events[1:]
	}
	b.mu.Unlock()
	if b.cfg.Log != nil {
		b.cfg.Log(msg)
	}
}

// Events returns recent board-side events (resets, boots, commands that
// changed state), for tests and `virtual-board --verbose`.
func (b *Board) Events() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.events...)
}

// ---- reset circuit ---------------------------------------------------------

// Pin levels from the auto-reset circuit (§6.1): RTS drives EN and DTR
// drives GPIO0 through two transistors, both active-low, so asserting
// both at once changes nothing.
func (b *Board) pinsLocked() (en, io0Low bool) {
	en = !b.resetBtn
	if !b.cfg.NoAutoReset && !b.cfg.USBJTAGSerial {
		if b.rts && !b.dtr {
			en = false
		}
		if b.dtr && !b.rts {
			io0Low = true
		}
	}
	if b.bootBtn {
		io0Low = true
	}
	return en, io0Low
}

// SetLines sets the host's DTR and RTS (true = asserted).
func (b *Board) SetLines(dtr, rts bool) {
	b.mu.Lock()
	b.dtr, b.rts = dtr, rts
	b.mu.Unlock()
	b.updateEN()
}

// SetDTR / SetRTS change one line.
func (b *Board) SetDTR(v bool) { b.mu.Lock(); b.dtr = v; b.mu.Unlock(); b.updateEN() }
func (b *Board) SetRTS(v bool) { b.mu.Lock(); b.rts = v; b.mu.Unlock(); b.updateEN() }

// PressReset holds (true) or releases (false) the RESET button.
func (b *Board) PressReset(down bool) { b.mu.Lock(); b.resetBtn = down; b.mu.Unlock(); b.updateEN() }

// HoldBoot holds (true) or releases the BOOT/FLASH button (GPIO0 low).
func (b *Board) HoldBoot(down bool) { b.mu.Lock(); b.bootBtn = down; b.mu.Unlock() }

// Reset pulses EN, as a user tapping RESET does; with download true GPIO0
// is held low through the strap sample (BOOT held while tapping RESET).
func (b *Board) Reset(download bool) {
	b.mu.Lock()
	b.resetGen++
	b.mu.Unlock()
	b.stopCPU()
	strap := 3
	if download {
		strap = 1
	}
	b.scheduleBootWith(2, strap)
}

func (b *Board) updateEN() {
	if b.cfg.USBJTAGSerial {
		b.usbControlLines()
	}
	b.mu.Lock()
	en, _ := b.pinsLocked()
	was := b.enHigh
	b.enHigh = en
	b.mu.Unlock()
	switch {
	case was && !en:
		b.mu.Lock()
		b.resetGen++
		b.mu.Unlock()
		b.stopCPU()
		b.logf("EN low: chip held in reset")
	case !was && en:
		b.scheduleBootWith(2, 0)
	}
}

// usbCDCBaud is the UART-equivalent rate of the USB-Serial/JTAG link: a
// full-speed bulk endpoint moves at most 19 packets of 64 bytes per 1 ms
// frame (USB 2.0 §5.8.4), about 1.2 MB/s; 1 MB/s is 10 Mbaud in 10-bit
// UART frames.
const usbCDCBaud = 10_000_000

// usbControlLines is the USB-Serial/JTAG controller decoding the host's
// CDC-ACM line state (SET_CONTROL_LINE_STATE) into resets, as Espressif
// documents it (ESP32-C3/S3 Technical Reference Manuals, chapter "USB
// Serial/JTAG Controller", CDC-ACM: table "Reset SoC into Download
// Mode"): (RTS, DTR) = (0, 1) sets the download-mode flag, (0, 0) clears
// it, (1, 0) resets the chip, which boots into the ROM loader when the
// flag is set and from flash otherwise, and (1, 1) does nothing. That is
// why esptool's USB-JTAG-serial sequence moves from "IO0 set" (DTR only)
// to "reset" (RTS only) through (1, 1) rather than (0, 0) (reset.py
// USBJTAGSerialReset: "Calls inverted to go through (1,1) instead of
// (0,0)"), and why its hard reset — DTR off, then RTS — boots the app.
// The state is decoded from transitions: each change of either line.
func (b *Board) usbControlLines() {
	b.mu.Lock()
	st := [2]bool{b.dtr, b.rts}
	if st == b.usbLines {
		b.mu.Unlock()
		return
	}
	b.usbLines = st
	reset := false
	switch {
	case b.dtr && !b.rts:
		b.usbDownload = true
	case !b.dtr && !b.rts:
		b.usbDownload = false
	case !b.dtr && b.rts:
		reset = true
		b.resetGen++
	}
	strap := 3
	if b.usbDownload {
		strap = 1
	}
	b.mu.Unlock()
	if reset {
		b.logf("USB-Serial/JTAG: chip reset (download flag %v)", strap == 1)
		b.stopCPU()
		b.scheduleBootWith(causeUSBChipReset, strap)
	}
}

// scheduleBootWith samples the straps StrapSample after EN rose, if EN is
// still high and no newer reset happened, and starts the CPU; a non-zero
// strap stands for a strap forced by the buttons.
func (b *Board) scheduleBootWith(cause, forced int) {
	b.mu.Lock()
	gen := b.resetGen
	b.mu.Unlock()
	time.AfterFunc(b.cfg.StrapSample, func() {
		b.mu.Lock()
		en, io0Low := b.pinsLocked()
		if b.closed || !en || b.resetGen != gen {
			b.mu.Unlock()
			return
		}
		// A = GPIO15<<2 | GPIO0<<1 | GPIO2; GPIO15 pulled low and GPIO2
		// high on dev boards (device-side.md §1.4).
		strap := 3
		if io0Low {
			strap = 1
		}
		if forced != 0 {
			strap = forced
		}
		b.strap = strap
		b.mu.Unlock()
		b.startCPU(cause, strap, true)
	})
}

func (b *Board) stopCPU() {
	b.mu.Lock()
	run := b.cpu
	b.cpu = nil
	b.mu.Unlock()
	if run != nil {
		run.cancel()
		<-run.done
	}
	// A chip in reset stops driving TX; what it was sending is cut off.
	b.toHost.drop()
}

// startCPU runs the chip from its reset vector (banner true) or jumps to
// a software entry (banner false is used for "run user code").
func (b *Board) startCPU(cause, strap int, banner bool) {
	b.stopCPU()
	ctx, cancel := context.WithCancel(context.Background())
	run := &cpuRun{cancel: cancel, done: make(chan struct{})}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		cancel()
		return
	}
	b.cpu = run
	b.wg.Add(1)
	b.mu.Unlock()
	go func() {
		defer b.wg.Done()
		defer close(run.done)
		b.runChip(ctx, cause, strap, banner)
	}()
}

// softReset is a software-initiated restart (FLASH_END(0), a stub
// reboot): the ROM starts again with rst cause 2 and the strap latched at
// the last hardware reset (device-side.md §1.4).
func (b *Board) softReset() { b.restartWith(2) }

// restartWith restarts the chip with a reset cause of its own (a
// watchdog, a software reset) and the strap latched at the last hardware
// reset.
func (b *Board) restartWith(cause int) {
	b.mu.Lock()
	strap := b.strap
	b.mu.Unlock()
	go b.startCPU(cause, strap, true)
}

// attachHost gives one transport the UART's host end; a board has one
// UART, and two readers would each steal the other's bytes.
func (b *Board) attachHost(owner string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errClosed
	}
	if b.host != "" {
		return fmt.Errorf("%w (by %s)", ErrBusy, b.host)
	}
	b.host = owner
	return nil
}

func (b *Board) detachHost(owner string) {
	b.mu.Lock()
	if b.host == owner {
		b.host = ""
	}
	b.mu.Unlock()
}

// Close powers the board off.
func (b *Board) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.stopCPU()
	b.toChip.close()
	b.toHost.close()
	b.wg.Wait()
	return nil
}

// baud returns the chip UART's current rate.
func (b *Board) baud() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.uartBaud
}

func (b *Board) setBaud(v int) {
	b.mu.Lock()
	b.uartBaud = v
	b.mu.Unlock()
}

// romBaud is the rate the ROM prints at: 115200 × crystal / 40 MHz, i.e.
// 74880 on a 26 MHz ESP8266 (device-side.md §1.1); ESP32-family ROMs print
// at 115200.
func (b *Board) romBaud() int {
	if !b.chip.IsESP8266() {
		return 115200
	}
	return 115200 * b.cfg.CrystalMHz / 40
}

// transmit sends bytes from the chip at its UART rate, unless muted.
func (b *Board) transmit(p []byte) {
	b.mu.Lock()
	mute, garbage, listener := b.mute, b.garbage, b.host != ""
	b.mu.Unlock()
	// With no host on the other end (port closed, cable out) the bytes go
	// nowhere: a USB bridge does not keep them for a later open.
	if mute || !listener {
		return
	}
	if garbage {
		g := make([]byte, len(p))
		for i := range g {
			g[i] = byte(uint32(i)*2654435761>>13) ^ 0xA7
			if g[i] == 0xC0 {
				g[i] = 0x3F
			}
		}
		p = g
	}
	b.toHost.send(p, b.baud())
}

// print sends text from the chip (boot messages).
func (b *Board) print(s string) { b.transmit([]byte(s)) }

// waitTx waits until the chip's UART has sent everything queued, as a
// firmware flushing its TX FIFO before changing baud or rebooting does.
func (b *Board) waitTx(ctx context.Context) error {
	return b.clk.SleepUntil(ctx, b.toHost.busyUntil())
}

// BootMode is the strap value A latched at the last reset: 1 = UART
// download (the ROM loader), 3 = boot from flash (device-side.md §1.4).
func (b *Board) BootMode() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.strap
}
