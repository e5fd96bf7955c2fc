package flasher

import (
	"fmt"

	"github.com/iotbench/iotbench/flasher/target"
)

// ChipInfo is what esptool prints after connecting (§6.4, §9).
type ChipInfo struct {
	Chip        *target.Chip
	Description string
	Features    []string
	CrystalMHz  int
	MAC         [6]byte
	// ChipID is the ESP8266's 24-bit chip id (§9.1); other chips have none.
	ChipID    uint32
	HasChipID bool
}

// ReadChipInfo reads description, crystal and MAC through registers.
func (l *Loader) ReadChipInfo() (*ChipInfo, error) {
	c := l.chip
	info := &ChipInfo{Chip: c, Description: c.Name, Features: []string{"WiFi"}}
	if c.IsESP8266() {
		var w [4]uint32
		for i, a := range []uint32{target.ESP8266OTPMAC0, target.ESP8266OTPMAC1, target.ESP8266OTPMAC2, target.ESP8266OTPMAC3} {
			v, err := l.ReadReg(a)
			if err != nil {
				return nil, err
			}
			w[i] = v
		}
		// ESP8285 has embedded flash, flagged by efuse bit 4 or bit 80 (§9.1).
		if w[0]&(1<<4) != 0 || w[2]&(1<<16) != 0 {
			info.Description = "ESP8285"
			info.Features = append(info.Features, "Embedded Flash")
		} else {
			info.Description = "ESP8266EX"
		}
		mac, err := target.MACFromESP8266OTP(w[0], w[1], w[3])
		if err != nil {
			return nil, err
		}
		info.MAC = mac
		info.ChipID = target.ESP8266ChipID(w[0], w[1])
		info.HasChipID = true
	} else {
		mac, err := l.readMAC32(c)
		if err != nil {
			return nil, err
		}
		info.MAC = mac
		if c.Name == "ESP32-H2" {
			info.Features = []string{"BLE", "IEEE802.15.4"}
		}
	}
	if c.UARTClkDivReg != 0 {
		div, err := l.ReadReg(c.UARTClkDivReg)
		if err != nil {
			return nil, err
		}
		info.CrystalMHz = crystalMHz(l.port.BaudRate(), div&0xFFFFF, c.XtalClkDivider)
	}
	l.info = info
	return info, nil
}

func (l *Loader) readMAC32(c *target.Chip) ([6]byte, error) {
	if c.Name == "ESP32" {
		w1, err := l.ReadReg(target.ESP32EfuseBase + 4)
		if err != nil {
			return [6]byte{}, err
		}
		w2, err := l.ReadReg(target.ESP32EfuseBase + 8)
		if err != nil {
			return [6]byte{}, err
		}
		return target.MACFromESP32Efuse(w1, w2), nil
	}
	lo, err := l.ReadReg(c.MACReg)
	if err != nil {
		return [6]byte{}, err
	}
	hi, err := l.ReadReg(c.MACReg + 4)
	if err != nil {
		return [6]byte{}, err
	}
	return target.MACFromTwoWords(lo, hi), nil
}

// crystalMHz estimates the crystal from the divider the ROM auto-bauded
// to: baud × divider / 1e6 / (APB:crystal ratio), rounded to a real
// crystal (§9.1).
func crystalMHz(baud int, div uint32, ratio int) int {
	if ratio <= 0 {
		ratio = 1
	}
	est := float64(baud) * float64(div) / 1e6 / float64(ratio)
	switch {
	case est > 45:
		return 48
	case est > 33:
		return 40
	default:
		return 26
	}
}

// Info is what ReadChipInfo last read (Open reads it); nil before. Its
// MAC keys the flash ledger.
func (l *Loader) Info() *ChipInfo { return l.info }

// Event returns the ChipEvent for this info.
func (i *ChipInfo) Event() ChipEvent {
	e := ChipEvent{Chip: i.Chip.Name, Description: i.Description, Features: i.Features, CrystalMHz: i.CrystalMHz, MAC: target.FormatMAC(i.MAC)}
	if i.HasChipID {
		e.ChipID = fmt.Sprintf("0x%06x", i.ChipID)
	}
	return e
}
