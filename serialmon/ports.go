package serialmon

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// PortInfo describes one serial port found on this machine.
type PortInfo struct {
	Path         string `json:"path"`
	IsUSB        bool   `json:"is_usb"`
	VID          uint16 `json:"vid"`
	PID          uint16 `json:"pid"`
	SerialNumber string `json:"serial_number,omitempty"`
	Product      string `json:"product,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	// Bridge names the USB-serial chip ("CP210x", "CH340", "CH9102",
	// "FTDI FT232R", "Espressif USB-JTAG-serial"...), "" if unknown.
	Bridge string `json:"bridge,omitempty"`
	// LikelyESP is true for the bridges ESP dev boards carry, which is what
	// ChoosePort picks from.
	LikelyESP bool `json:"likely_esp"`
}

// String is the one-line description used in lists and error messages,
// e.g. "/dev/ttyUSB0 (CP210x, 10C4:EA60, serial 0001)".
func (p PortInfo) String() string {
	var parts []string
	if p.Bridge != "" {
		parts = append(parts, p.Bridge)
	}
	if p.IsUSB {
		parts = append(parts, fmt.Sprintf("%04X:%04X", p.VID, p.PID))
		if p.Bridge == "" && p.Product != "" {
			parts = append(parts, p.Product)
		}
	}
	if p.SerialNumber != "" {
		parts = append(parts, "serial "+p.SerialNumber)
	}
	if len(parts) == 0 {
		return p.Path
	}
	return p.Path + " (" + strings.Join(parts, ", ") + ")"
}

// ListPorts lists the serial ports of this machine with their USB
// details, sorted by path (ttyUSB2 before ttyUSB10). Pseudo-terminals
// (a virtual board) are not listed: they are opened by path.
func ListPorts() ([]PortInfo, error) {
	raw, err := enumeratePorts()
	if err != nil {
		return nil, fmt.Errorf("listing serial ports: %w", err)
	}
	return portsFromRaw(raw), nil
}

// rawPort is what the platform enumerator reports; VID and PID are hex.
type rawPort struct {
	Name, VID, PID                      string
	IsUSB                               bool
	SerialNumber, Manufacturer, Product string
}

// portsFromRaw turns the enumerator's answer into sorted PortInfos.
func portsFromRaw(raw []rawPort) []PortInfo {
	seen := map[string]bool{}
	var out []PortInfo
	for _, d := range raw {
		if d.Name == "" || seen[d.Name] {
			continue
		}
		p := PortInfo{Path: d.Name, IsUSB: d.IsUSB, SerialNumber: d.SerialNumber, Product: d.Product, Manufacturer: d.Manufacturer}
		if d.IsUSB {
			// Hex without 0x; Linux sysfs writes lowercase, others upper.
			vid, errV := strconv.ParseUint(d.VID, 16, 16)
			pid, errP := strconv.ParseUint(d.PID, 16, 16)
			if errV == nil && errP == nil {
				p.VID, p.PID = uint16(vid), uint16(pid)
				p.Bridge, p.LikelyESP = Classify(p.VID, p.PID)
			}
		}
		seen[p.Path] = true
		out = append(out, p)
	}
	// macOS lists each device twice, as /dev/tty.X and /dev/cu.X. The cu
	// ("call-up") node is the one to use: tty.X is for answering incoming
	// calls and waits for carrier detect.
	out = slices.DeleteFunc(out, func(p PortInfo) bool {
		rest, ok := strings.CutPrefix(p.Path, "/dev/tty.")
		return ok && seen["/dev/cu."+rest]
	})
	slices.SortStableFunc(out, func(a, b PortInfo) int { return comparePaths(a.Path, b.Path) })
	return out
}

// comparePaths orders paths by their text, except that a trailing number
// compares as a number, so ttyUSB2 sorts before ttyUSB10.
func comparePaths(a, b string) int {
	sa, na := splitTrailingNumber(a)
	sb, nb := splitTrailingNumber(b)
	if sa == sb && na != nb {
		return cmp.Compare(na, nb)
	}
	return strings.Compare(a, b)
}

func splitTrailingNumber(s string) (string, int) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	n, err := strconv.Atoi(s[i:])
	if err != nil || len(s)-i > 9 {
		return s, -1
	}
	return s[:i], n
}

type bridgeKind struct {
	name      string
	likelyESP bool
}

// usbBridges are the USB IDs of the serial bridges on ESP dev boards.
// Sources, by vendor:
//   - Silicon Labs: the factory-default PIDs in Linux's
//     drivers/usb/serial/cp210x.c and Silicon Labs AN721. EA60 covers
//     CP2101/2/3/4/9 and CP2102N (NodeMCU "Amica", ESP32-DevKitC).
//   - WCH: 7523 and 5523 from Linux's drivers/usb/serial/ch341.c (CH340 on
//     NodeMCU "LoLin" v3 and Wemos D1 mini); the 55Dx PIDs from WCH's own
//     CDC driver (github.com/WCHSoftGroup/ch343ser_linux, driver/ch343.c),
//     which maps 55D2 to CH342, 55D3 to CH343, 55D4 to CH9102 (newer
//     ESP32-DevKitC and LilyGO boards) and 55D8 to CH9101.
//   - FTDI: Linux's drivers/usb/serial/ftdi_sio_ids.h. FT2232 is on
//     ESP-WROVER-KIT and ESP-Prog, where the second interface is the UART.
//   - Espressif (VID 303A): 1001 is the USB-Serial-JTAG peripheral of
//     C3/S3/C6/H2 (esptool's USB_JTAG_SERIAL_PID); 0002 is the ESP32-S2
//     ROM's USB-OTG download mode (many public udev rules and Espressif
//     forum threads; not in esptool itself).
//   - Prolific PL2303 (Linux's pl2303.h): a common adapter, but not on ESP
//     dev boards.
var usbBridges = map[[2]uint16]bridgeKind{
	{0x10C4, 0xEA60}: {"CP210x", true},
	{0x10C4, 0xEA70}: {"CP2105", true},
	{0x10C4, 0xEA71}: {"CP2108", true},
	{0x1A86, 0x7523}: {"CH340", true},
	{0x1A86, 0x5523}: {"CH341", true},
	{0x1A86, 0x55D2}: {"CH342", true},
	{0x1A86, 0x55D3}: {"CH343", true},
	{0x1A86, 0x55D4}: {"CH9102", true},
	{0x1A86, 0x55D8}: {"CH9101", true},
	{0x0403, 0x6001}: {"FTDI FT232R", true},
	{0x0403, 0x6010}: {"FTDI FT2232", true},
	{0x0403, 0x6014}: {"FTDI FT232H", true},
	{0x0403, 0x6015}: {"FTDI FT-X", true},
	{0x303A, 0x1001}: {"Espressif USB-JTAG-serial", true},
	{0x303A, 0x0002}: {"Espressif USB-OTG (ROM download)", true},
	{0x067B, 0x2303}: {"Prolific PL2303", false},
}

// usbVendors names the vendor of an ID pair not in usbBridges. Only
// Espressif's own VID counts as an ESP: whatever the PID (a TinyUSB CDC
// app, a board's own PID from github.com/espressif/usb-pids), the device
// is an ESP chip. Another product of a bridge vendor is not evidence.
var usbVendors = map[uint16]bridgeKind{
	0x10C4: {"Silicon Labs", false},
	0x1A86: {"WCH", false},
	0x0403: {"FTDI", false},
	0x067B: {"Prolific", false},
	0x303A: {"Espressif USB", true},
}

// Classify names the USB-serial bridge with these IDs and says whether ESP
// dev boards use it. Unknown IDs give "", false.
func Classify(vid, pid uint16) (bridge string, likelyESP bool) {
	if b, ok := usbBridges[[2]uint16{vid, pid}]; ok {
		return b.name, b.likelyESP
	}
	if b, ok := usbVendors[vid]; ok {
		return b.name, b.likelyESP
	}
	return "", false
}

// ErrNoPort is wrapped by ChoosePort's error when no port looks like an ESP
// board.
var ErrNoPort = errors.New("no serial port that looks like an ESP board (CP210x, CH340/CH9102, FTDI, Espressif USB) was found: plug the board in (check the cable carries data), or pass --port PATH")

// AmbiguousPortError is ChoosePort's error when several ports look like
// ESP boards: guessing could flash the wrong board.
type AmbiguousPortError struct {
	Candidates []PortInfo
}

func (e *AmbiguousPortError) Error() string {
	s := make([]string, len(e.Candidates))
	for i, p := range e.Candidates {
		s[i] = p.String()
	}
	return fmt.Sprintf("%d serial ports look like ESP boards: %s: pass --port to choose one", len(e.Candidates), strings.Join(s, "; "))
}

// ChoosePort picks the port to use when the user gave none, as esptool
// does: the only port that looks like an ESP board. With none the error
// wraps ErrNoPort (and lists the other ports, since one of them may be a
// board behind an unknown bridge); with several it is an
// *AmbiguousPortError.
func ChoosePort(ports []PortInfo) (PortInfo, error) {
	var esp []PortInfo
	for _, p := range ports {
		if p.LikelyESP {
			esp = append(esp, p)
		}
	}
	switch len(esp) {
	case 1:
		return esp[0], nil
	case 0:
		if len(ports) == 0 {
			return PortInfo{}, ErrNoPort
		}
		s := make([]string, len(ports))
		for i, p := range ports {
			s[i] = p.String()
		}
		return PortInfo{}, fmt.Errorf("%w (other serial ports: %s)", ErrNoPort, strings.Join(s, "; "))
	default:
		return PortInfo{}, &AmbiguousPortError{Candidates: esp}
	}
}
