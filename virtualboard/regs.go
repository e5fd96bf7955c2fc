package virtualboard

import (
	"bytes"
	"encoding/binary"
	"math"

	"github.com/iotbench/iotbench/flasher/target"
)

// regFile is the part of the chip's address space the loaders touch:
// detection magic, efuses, the UART divider and the SPI flash controller.
// Other addresses read back what was last written (or 0), like RAM.
type regFile struct {
	b   *Board
	mem map[uint32]uint32
	// flashPins: the SPI flash pins are routed to the controller. The
	// ESP32-family ROM loaders leave them unrouted until SPI_ATTACH
	// (esptool __init__.py: "ROM loader doesn't enable flash unless we
	// explicitly do it"); until then a transaction reaches no chip and
	// MISO reads the pulled-up line, 0xFF. The ESP8266 ROM's flash is
	// usable as the loader starts.
	flashPins bool
}

func newRegFile(b *Board) *regFile {
	return &regFile{b: b, mem: map[uint32]uint32{}, flashPins: b.chip.IsESP8266()}
}

func (r *regFile) read(addr uint32) uint32 {
	c := r.b.chip
	if addr == target.MagicReg && len(c.Magic) > 0 {
		return c.Magic[0]
	}
	if v, ok := r.efuse(addr); ok {
		return v
	}
	if c.UARTClkDivReg != 0 && addr == c.UARTClkDivReg {
		return r.b.uartDivider()
	}
	if c.ROMBaudSkew {
		switch addr {
		case target.ESP32RTCCaliReg:
			return target.ESP32ROMCaliValue(r.b.romCrystalHz(), esp32CK8M)
		case target.ESP32EfuseRData4:
			return esp32CK8M
		}
	}
	return r.mem[addr]
}

func (r *regFile) write(addr, value, mask uint32) {
	old := r.read(addr)
	v := (old &^ mask) | (value & mask)
	r.mem[addr] = v
	s := r.b.chip.SPI
	if addr == s.Base && v&(1<<18) != 0 {
		r.spiExec()
		r.mem[addr] = v &^ (1 << 18) // USR bit clears when the transaction ends
	}
}

// efuse serves the MAC the way each chip stores it (esp-serial-protocol.md §9).
func (r *regFile) efuse(addr uint32) (uint32, bool) {
	c, m := r.b.chip, r.b.cfg.MAC
	if c.IsESP8266() {
		// OUI 18:FE:34 and AC:D0:74 are coded in MAC1 bits 16–23 (0/1)
		// with MAC3 = 0; any other OUI is programmed into MAC3 (§9.1).
		oui := uint32(m[0])<<16 | uint32(m[1])<<8 | uint32(m[2])
		var code, mac3 uint32
		switch oui {
		case 0x18FE34:
			code = 0
		case 0xACD074:
			code = 1
		default:
			code, mac3 = 2, oui
		}
		switch addr {
		case target.ESP8266OTPMAC0:
			return uint32(m[5]) << 24, true
		case target.ESP8266OTPMAC1:
			return code<<16 | uint32(m[3])<<8 | uint32(m[4]), true
		case target.ESP8266OTPMAC2:
			return 0, true
		case target.ESP8266OTPMAC3:
			return mac3, true
		}
		return 0, false
	}
	if c.Name == "ESP32" {
		switch addr {
		case target.ESP32EfuseBase + 4:
			return binary.BigEndian.Uint32(m[2:6]), true
		case target.ESP32EfuseBase + 8:
			return uint32(m[0])<<8 | uint32(m[1]), true // CRC byte left 0
		}
		return 0, false
	}
	switch addr {
	case c.MACReg:
		return binary.BigEndian.Uint32(m[2:6]), true
	case c.MACReg + 4:
		return uint32(m[0])<<8 | uint32(m[1]), true
	}
	return 0, false
}

// esp32CK8M is the virtual ESP32's EFUSE_RD_CK8M_FREQ (efuse word 4,
// bits 0–7). Any non-zero value works with esptool's formula; 64 gives
// the calibration register a resolution of 25 kHz of crystal estimate.
const esp32CK8M = 64

// romCrystalHz is the crystal frequency the ROM believes in: the real
// one, except on the original ESP32, whose ROM estimates it against its
// drifting 8 MHz RC clock (esp-serial-protocol.md §6.6).
func (b *Board) romCrystalHz() float64 {
	real := float64(b.cfg.CrystalMHz) * 1e6
	if !b.chip.ROMBaudSkew {
		return real
	}
	if b.cfg.ROMCrystalHz > 0 {
		return b.cfg.ROMCrystalHz
	}
	return real * (1 + defaultESP32ROMClockError)
}

// uartDivider is what UART_CLKDIV reads after the ROM auto-bauded: the APB
// clock (2 × crystal on the ESP8266, the crystal on ESP32-family ROMs)
// over the baud, rounded up — 452 (0x1C4) at 115200 on a 26 MHz ESP8266,
// as in the doc's capture (§9.1).
func (b *Board) uartDivider() uint32 {
	apb := float64(b.cfg.CrystalMHz) * 1e6 * float64(max(b.chip.XtalClkDivider, 1))
	return uint32(math.Ceil(apb / float64(b.baud())))
}

// spiExec runs the transaction programmed into the SPI controller's user
// registers against the flash (§12.1/§12.2 in reverse).
func (r *regFile) spiExec() {
	s := r.b.chip.SPI
	base := s.Base
	usr, usr1, usr2 := r.mem[base+s.USR], r.mem[base+s.USR1], r.mem[base+s.USR2]
	var cmd byte
	if usr&(1<<31) != 0 {
		cmd = byte(usr2)
	}
	addrBits := 0
	if usr&(1<<30) != 0 {
		addrBits = int(usr1>>26&0x3F) + 1
	}
	addr := r.mem[base+s.AddrOffs]
	if s.AddrMSB && addrBits > 0 {
		addr >>= uint(32 - addrBits)
	}
	var misoBits, mosiBits int
	if s.HasDLen {
		if usr&(1<<28) != 0 {
			misoBits = int(r.mem[base+s.MISODLen]) + 1
		}
		if usr&(1<<27) != 0 {
			mosiBits = int(r.mem[base+s.MOSIDLen]) + 1
		}
	} else {
		if usr&(1<<28) != 0 {
			misoBits = int(usr1>>8&0x1FF) + 1
		}
		if usr&(1<<27) != 0 {
			mosiBits = int(usr1>>17&0x1FF) + 1
		}
	}
	mosiBits, misoBits = min(mosiBits, 512), min(misoBits, 512)
	mosi := make([]byte, 64)
	for i := 0; i < 16; i++ {
		binary.LittleEndian.PutUint32(mosi[4*i:], r.mem[base+s.W0+uint32(4*i)])
	}
	var out []byte
	if r.flashPins {
		out = r.b.flash.SPI(cmd, addr, mosi[:(mosiBits+7)/8], (misoBits+7)/8)
	} else {
		out = bytes.Repeat([]byte{0xFF}, (misoBits+7)/8)
	}
	for i := 0; i < len(out); i += 4 {
		var w [4]byte
		copy(w[:], out[i:])
		r.mem[base+s.W0+uint32(i)] = binary.LittleEndian.Uint32(w[:])
	}
}
