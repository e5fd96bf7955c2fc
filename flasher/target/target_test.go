package target

import "testing"

func TestMACDerivation(t *testing.T) {
	// The doc's worked example (§9.1).
	m, err := MACFromESP8266OTP(0x5A000000, 0x0000AB34, 0)
	if err != nil || FormatMAC(m) != "18:fe:34:ab:34:5a" {
		t.Fatalf("got %s %v", FormatMAC(m), err)
	}
	m, _ = MACFromESP8266OTP(0x5A000000, 0x0001AB34, 0)
	if FormatMAC(m) != "ac:d0:74:ab:34:5a" {
		t.Fatalf("OUI code 1: %s", FormatMAC(m))
	}
	m, _ = MACFromESP8266OTP(0x5A000000, 0x0002AB34, 0x00A1B2C3)
	if FormatMAC(m) != "a1:b2:c3:ab:34:5a" {
		t.Fatalf("OUI from MAC3: %s", FormatMAC(m))
	}
	if _, err := MACFromESP8266OTP(0, 0x00020000, 0); err == nil {
		t.Fatal("unknown OUI code accepted")
	}
	if id := ESP8266ChipID(0x5A000000, 0x0000AB34); id != 0xAB345A {
		t.Fatalf("chip id %x", id)
	}
}

func TestLookups(t *testing.T) {
	for _, n := range []string{"esp8266", "ESP32-C3", "esp32c3", "esp32s3"} {
		if _, err := ByName(n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ByName("esp31"); err == nil {
		t.Fatal("bogus chip accepted")
	}
	if c := ByMagic(0xFFF0C101); c == nil || !c.IsESP8266() {
		t.Fatal("8266 magic")
	}
	if c := ByMagic(0x1B31506F); c == nil || c.Name != "ESP32-C3" {
		t.Fatal("C3 magic")
	}
	if c := ByImageID(9); c == nil || c.Name != "ESP32-S3" {
		t.Fatal("S3 id")
	}
	if n, ok := FlashSizeFromJEDEC(0x16); !ok || n != 4<<20 || SizeName(n) != "4MB" {
		t.Fatal("0x16")
	}
	seen := map[uint32]string{}
	for _, c := range Chips {
		for _, m := range c.Magic {
			if o, dup := seen[m]; dup {
				t.Fatalf("magic %08x shared by %s and %s", m, o, c.Name)
			}
			seen[m] = c.Name
		}
	}
}

// esptool's ESP32 baud workaround, worked by hand from targets/esp32.py:
// cali 1664 with CK8M 64 → 1664 × 15625 × 64 / 40 = 41.6 MHz; a 40 MHz
// crystal is assumed (estimate > 33 MHz), so 921600 is sent as
// floor(921600 × 41.6 / 40) = 958464.
func TestESP32ROMBaudWorkaround(t *testing.T) {
	reg := ESP32ROMCaliValue(41.6e6, 64)
	if reg != 1664<<7 {
		t.Fatalf("cali register 0x%X", reg)
	}
	hz := ESP32ROMCrystalHz(reg|0x7F, 0xAB00|64) // low bits and other efuse bits are ignored
	if hz != 41.6e6 {
		t.Fatalf("ROM crystal %v", hz)
	}
	if got := ESP32ROMBaudArg(921600, hz); got != 958464 {
		t.Fatalf("baud arg %d", got)
	}
	// A 26 MHz estimate keeps 26 MHz as the reference.
	if got := ESP32ROMBaudArg(115200, 27e6); got != 119630 {
		t.Fatalf("26 MHz crystal: %d", got)
	}
	if got := ESP32ROMBaudArg(115200, 40e6); got != 115200 {
		t.Fatalf("no drift: %d", got)
	}
}

func TestESP32SPIPads(t *testing.T) {
	// ESP32-PICO-D4 style pads: CLK 6, Q 17, D 8, CS 16, HD 11.
	rdata5 := uint32(6 | 17<<5 | 8<<10 | 16<<15)
	rdata3 := uint32(11 << 4)
	if got, want := ESP32SPIPads(rdata3, rdata5), uint32(11<<24|16<<18|8<<12|17<<6|6); got != want {
		t.Fatalf("pads 0x%X want 0x%X", got, want)
	}
	if ESP32SPIPads(0, 0) != 0 {
		t.Fatal("no pads must mean the default pins (0)")
	}
}

func TestOffsets(t *testing.T) {
	for _, c := range Chips {
		if c.IsESP8266() {
			if c.PartitionTableOffset != 0 || c.AppOffset != 0 {
				t.Fatal("ESP8266 has no partition table")
			}
			continue
		}
		if c.PartitionTableOffset != 0x8000 || c.AppOffset != 0x10000 {
			t.Fatalf("%s: %x %x", c.Name, c.PartitionTableOffset, c.AppOffset)
		}
	}
	for name, off := range map[string]uint32{"ESP32": 0x1000, "ESP32-S2": 0x1000, "ESP32-S3": 0, "ESP32-C3": 0, "ESP32-C6": 0, "ESP32-H2": 0} {
		c, _ := ByName(name)
		if c.BootloaderOffset != off {
			t.Fatalf("%s bootloader at 0x%X", name, c.BootloaderOffset)
		}
	}
}
