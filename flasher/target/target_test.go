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
