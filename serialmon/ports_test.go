package serialmon

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		vid, pid uint16
		bridge   string
		esp      bool
	}{
		{0x10C4, 0xEA60, "CP210x", true},
		{0x10C4, 0xEA70, "CP2105", true},
		{0x10C4, 0xEA71, "CP2108", true},
		{0x1A86, 0x7523, "CH340", true},
		{0x1A86, 0x5523, "CH341", true},
		{0x1A86, 0x55D2, "CH342", true},
		{0x1A86, 0x55D3, "CH343", true},
		{0x1A86, 0x55D4, "CH9102", true},
		{0x1A86, 0x55D8, "CH9101", true},
		{0x0403, 0x6001, "FTDI FT232R", true},
		{0x0403, 0x6010, "FTDI FT2232", true},
		{0x0403, 0x6014, "FTDI FT232H", true},
		{0x0403, 0x6015, "FTDI FT-X", true},
		{0x303A, 0x1001, "Espressif USB-JTAG-serial", true},
		{0x303A, 0x0002, "Espressif USB-OTG (ROM download)", true},
		{0x303A, 0x4001, "Espressif USB", true}, // a TinyUSB CDC app on an ESP
		{0x067B, 0x2303, "Prolific PL2303", false},
		{0x067B, 0x23A3, "Prolific", false},
		{0x10C4, 0x8A2A, "Silicon Labs", false},
		{0x0403, 0x6011, "FTDI", false},
		{0x2341, 0x0043, "", false}, // Arduino Uno
		{0, 0, "", false},
	}
	for _, tt := range tests {
		bridge, esp := Classify(tt.vid, tt.pid)
		if bridge != tt.bridge || esp != tt.esp {
			t.Errorf("Classify(%04X, %04X) = %q, %v; want %q, %v", tt.vid, tt.pid, bridge, esp, tt.bridge, tt.esp)
		}
	}
}

var (
	cp2102 = PortInfo{Path: "/dev/ttyUSB0", IsUSB: true, VID: 0x10C4, PID: 0xEA60, SerialNumber: "0001", Bridge: "CP210x", LikelyESP: true}
	ch340  = PortInfo{Path: "/dev/ttyUSB1", IsUSB: true, VID: 0x1A86, PID: 0x7523, Bridge: "CH340", LikelyESP: true}
	jtag   = PortInfo{Path: "/dev/ttyACM0", IsUSB: true, VID: 0x303A, PID: 0x1001, SerialNumber: "F4:12:FA:00:11:22", Bridge: "Espressif USB-JTAG-serial", LikelyESP: true}
	pl2303 = PortInfo{Path: "/dev/ttyUSB2", IsUSB: true, VID: 0x067B, PID: 0x2303, Bridge: "Prolific PL2303"}
	ttyS0  = PortInfo{Path: "/dev/ttyS0"}
)

func TestChoosePort(t *testing.T) {
	tests := []struct {
		name      string
		ports     []PortInfo
		want      string // chosen path
		noPort    bool
		ambiguous []string // candidate paths
		mentions  []string // substrings of the error
	}{
		{name: "one ESP", ports: []PortInfo{cp2102}, want: "/dev/ttyUSB0"},
		{name: "one ESP among others", ports: []PortInfo{ttyS0, pl2303, jtag}, want: "/dev/ttyACM0"},
		{name: "nothing", noPort: true, mentions: []string{"plug the board in", "--port PATH"}},
		{name: "only others", ports: []PortInfo{ttyS0, pl2303}, noPort: true,
			mentions: []string{"--port PATH", "/dev/ttyS0", "/dev/ttyUSB2 (Prolific PL2303, 067B:2303)"}},
		{name: "several", ports: []PortInfo{cp2102, ttyS0, ch340, jtag}, ambiguous: []string{"/dev/ttyUSB0", "/dev/ttyUSB1", "/dev/ttyACM0"},
			mentions: []string{"3 serial ports", "/dev/ttyUSB0 (CP210x, 10C4:EA60, serial 0001)", "/dev/ttyUSB1 (CH340, 1A86:7523)",
				"serial F4:12:FA:00:11:22", "pass --port to choose one"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ChoosePort(tt.ports)
			switch {
			case tt.want != "":
				if err != nil || got.Path != tt.want {
					t.Fatalf("ChoosePort = %v, %v; want %s", got, err, tt.want)
				}
				return
			case tt.noPort:
				if !errors.Is(err, ErrNoPort) {
					t.Fatalf("ChoosePort error = %v; want ErrNoPort", err)
				}
			default:
				var amb *AmbiguousPortError
				if !errors.As(err, &amb) {
					t.Fatalf("ChoosePort error = %v; want *AmbiguousPortError", err)
				}
				var paths []string
				for _, c := range amb.Candidates {
					paths = append(paths, c.Path)
				}
				if !slices.Equal(paths, tt.ambiguous) {
					t.Errorf("candidates %q; want %q", paths, tt.ambiguous)
				}
			}
			for _, m := range tt.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			if got != (PortInfo{}) {
				t.Errorf("ChoosePort returned %v with an error", got)
			}
		})
	}
}

func TestPortsFromRaw(t *testing.T) {
	raw := []rawPort{
		{Name: "/dev/ttyUSB10", IsUSB: true, VID: "1a86", PID: "55d4", SerialNumber: "5434012345", Product: "USB Single Serial"},
		{Name: "/dev/ttyUSB2", IsUSB: true, VID: "10C4", PID: "EA60", Manufacturer: "Silicon Labs"},
		{Name: "/dev/ttyS0"},
		{Name: ""},
		{Name: "/dev/ttyS0"}, // recovered twice
		{Name: "/dev/ttyACM0", IsUSB: true, VID: "zz", PID: "1"}, // unparsable IDs
		{Name: "/dev/cu.usbserial-0001", IsUSB: true, VID: "10C4", PID: "EA60"},
		{Name: "/dev/tty.usbserial-0001", IsUSB: true, VID: "10C4", PID: "EA60"},
		{Name: "/dev/tty.Bluetooth-Incoming-Port"},
	}
	got := portsFromRaw(raw)
	want := []PortInfo{
		{Path: "/dev/cu.usbserial-0001", IsUSB: true, VID: 0x10C4, PID: 0xEA60, Bridge: "CP210x", LikelyESP: true},
		{Path: "/dev/tty.Bluetooth-Incoming-Port"},
		{Path: "/dev/ttyACM0", IsUSB: true},
		{Path: "/dev/ttyS0"},
		{Path: "/dev/ttyUSB2", IsUSB: true, VID: 0x10C4, PID: 0xEA60, Manufacturer: "Silicon Labs", Bridge: "CP210x", LikelyESP: true},
		{Path: "/dev/ttyUSB10", IsUSB: true, VID: 0x1A86, PID: 0x55D4, SerialNumber: "5434012345", Product: "USB Single Serial", Bridge: "CH9102", LikelyESP: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("portsFromRaw:\n got %+v\nwant %+v", got, want)
	}
}

func TestComparePaths(t *testing.T) {
	in := []string{"/dev/ttyUSB10", "/dev/ttyACM1", "/dev/ttyUSB2", "/dev/ttyUSB", "/dev/ttyS0", "/dev/ttyUSB02", "COM10", "COM3"}
	slices.SortFunc(in, comparePaths)
	want := []string{"/dev/ttyACM1", "/dev/ttyS0", "/dev/ttyUSB", "/dev/ttyUSB02", "/dev/ttyUSB2", "/dev/ttyUSB10", "COM3", "COM10"}
	if !slices.Equal(in, want) {
		t.Errorf("sorted %q; want %q", in, want)
	}
}

func TestPortInfoString(t *testing.T) {
	tests := []struct {
		p    PortInfo
		want string
	}{
		{ttyS0, "/dev/ttyS0"},
		{cp2102, "/dev/ttyUSB0 (CP210x, 10C4:EA60, serial 0001)"},
		{PortInfo{Path: "/dev/ttyACM3", IsUSB: true, VID: 0x2341, PID: 0x0043, Product: "Arduino Uno"}, "/dev/ttyACM3 (2341:0043, Arduino Uno)"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q; want %q", got, tt.want)
		}
	}
}

// TestListPorts only checks that enumeration works on this machine and
// returns well-formed entries; which ports exist is up to the machine.
func TestListPorts(t *testing.T) {
	ports, err := ListPorts()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		if p.Path == "" {
			t.Errorf("port without a path: %+v", p)
		}
		if !p.IsUSB && (p.VID != 0 || p.LikelyESP) {
			t.Errorf("non-USB port with USB details: %+v", p)
		}
	}
	t.Logf("%d ports: %v", len(ports), ports)
}

func TestLookupUSB(t *testing.T) {
	dir := t.TempDir()
	dev := filepath.Join(dir, "ttyUSB0")
	if err := os.WriteFile(dev, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	byID := filepath.Join(dir, "usb-Silicon_Labs_CP2102_0001-if00-port0")
	if err := os.Symlink("ttyUSB0", byID); err != nil {
		t.Fatal(err)
	}
	list := func() ([]PortInfo, error) {
		return []PortInfo{ttyS0, {Path: dev, IsUSB: true, VID: 0x10C4, PID: 0xEA60}}, nil
	}
	for _, path := range []string{dev, byID} {
		vid, pid, ok := lookupUSB(path, list)
		if !ok || vid != 0x10C4 || pid != 0xEA60 {
			t.Errorf("lookupUSB(%s) = %04X, %04X, %v; want 10C4, EA60, true", path, vid, pid, ok)
		}
	}
	if _, _, ok := lookupUSB("/dev/ttyS0", list); ok {
		t.Error("a non-USB port has USB IDs")
	}
	if _, _, ok := lookupUSB(dev, func() ([]PortInfo, error) { return nil, errors.New("no sysfs") }); ok {
		t.Error("USB IDs found although listing failed")
	}
}
