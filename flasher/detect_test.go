package flasher_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/target"
	"github.com/iotbench/iotbench/virtualboard"
)

// Every chip is identified the way esptool does it (GET_SECURITY_INFO chip
// ID where the ROM has one, else the magic register) and its MAC and flash
// ID are read through its own registers.
func TestDetectEveryChip(t *testing.T) {
	mac := [6]byte{0x24, 0x0A, 0xC4, 0x12, 0x34, 0x56}
	for _, c := range target.Chips {
		t.Run(c.Name, func(t *testing.T) {
			b := newBoard(t, virtualboard.Config{Chip: c.Name, MAC: mac, FlashSize: 8 << 20})
			port, name := openTransport(t, b, "inprocess")
			cl := &collector{}
			o := sessionOptions(name, cl)
			o.NoStub = true
			l, info, err := flasher.Open(context.Background(), port, o)
			if err != nil {
				t.Fatalf("open: %v (board: %v)", err, b.Events())
			}
			if info.Chip != c || l.Chip() != c {
				t.Fatalf("detected %s", info.Chip.Name)
			}
			if info.MAC != mac {
				t.Fatalf("MAC %s", target.FormatMAC(info.MAC))
			}
			size, err := l.FlashSize()
			if err != nil || size != 8<<20 {
				t.Fatalf("flash size %d %v", size, err)
			}
			if c.IsESP8266() {
				// chip_id = MAC0>>24 | (MAC1&0xFFFFFF)<<8; MAC1 carries the OUI
				// code (2 = OUI stored in MAC3) in bits 16–23 (§9.1).
				if !info.HasChipID || info.ChipID != 0x02123456 || info.CrystalMHz != 26 {
					t.Fatalf("8266 chip id %x crystal %d", info.ChipID, info.CrystalMHz)
				}
			} else {
				// Every ESP32-family ROM writes, compressed and MD5-verified.
				data := []byte{1, 2, 3, 4}
				if err := l.WriteFlash(context.Background(), []flasher.Region{{Addr: 0x10000, Data: data}}, flasher.WriteOptions{}); err != nil {
					t.Fatalf("write on %s: %v", c.Name, err)
				}
				if got := b.Flash().Read(0x10000, 4); string(got) != string(data) {
					t.Fatalf("flash holds % X", got)
				}
			}
		})
	}
}

func TestWrongChipIsAClearError(t *testing.T) {
	b := newBoard(t, virtualboard.Config{})
	port, name := openTransport(t, b, "inprocess")
	o := sessionOptions(name, &collector{})
	o.NoStub = true
	o.Chip = "esp32"
	_, _, err := flasher.Open(context.Background(), port, o)
	var ce *flasher.ChipError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "this chip is ESP8266, not ESP32") {
		t.Fatalf("err = %v", err)
	}
}

// The MAC OUI derivation of the ESP8266 (§9.1) for each way it is stored.
func TestESP8266MACOUIs(t *testing.T) {
	for _, mac := range [][6]byte{{0x18, 0xFE, 0x34, 1, 2, 3}, {0xAC, 0xD0, 0x74, 4, 5, 6}, {0x5C, 0xCF, 0x7F, 7, 8, 9}} {
		b := newBoard(t, virtualboard.Config{MAC: mac})
		port, name := openTransport(t, b, "inprocess")
		o := sessionOptions(name, &collector{})
		o.NoStub, o.SkipFlash = true, true
		_, info, err := flasher.Open(context.Background(), port, o)
		if err != nil || info.MAC != mac {
			t.Fatalf("%x: got %x %v", mac, info.MAC, err)
		}
		b.Close()
	}
}

// Without GET_SECURITY_INFO (older ROM revisions) every chip that has a
// magic value is told apart by READ_REG 0x40001000 alone (§8.1).
func TestDetectByMagicRegister(t *testing.T) {
	for _, c := range target.Chips {
		if len(c.Magic) == 0 {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			b := newBoard(t, virtualboard.Config{Chip: c.Name, NoSecurityInfo: true})
			port, name := openTransport(t, b, "inprocess")
			o := sessionOptions(name, &collector{})
			o.NoStub, o.SkipFlash = true, true
			_, info, err := flasher.Open(context.Background(), port, o)
			if err != nil || info.Chip != c {
				t.Fatalf("detected %v, err %v", info, err)
			}
		})
	}
}
