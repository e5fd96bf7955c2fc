package image

import (
	"strings"
	"testing"
)

func TestChipsTable(t *testing.T) {
	// Bootloader offsets and image chip IDs (esp-serial-protocol.md §14.5,
	// esptool targets/*.py BOOTLOADER_FLASH_OFFSET and IMAGE_CHIP_ID).
	tests := []struct {
		chip   string
		offset uint32
		id     int // -1: none
	}{
		{"ESP8266", 0x0, -1},
		{"ESP32", 0x1000, 0},
		{"ESP32-S2", 0x1000, 2},
		{"ESP32-S3", 0x0, 9},
		{"ESP32-C3", 0x0, 5},
		{"ESP32-C2", 0x0, 12},
		{"ESP32-C6", 0x0, 13},
		{"ESP32-H2", 0x0, 16},
		{"ESP32-C5", 0x2000, 23},
		{"ESP32-C61", 0x0, 20},
		{"ESP32-P4", 0x2000, 18},
	}
	if got := len(Chips()); got != len(tests) {
		t.Fatalf("Chips() has %d entries, want %d", got, len(tests))
	}
	for _, tc := range tests {
		off, err := BootloaderOffset(tc.chip)
		if err != nil || off != tc.offset {
			t.Errorf("BootloaderOffset(%s) = 0x%x, %v; want 0x%x", tc.chip, off, err, tc.offset)
		}
		id, err := ImageChipID(tc.chip)
		if tc.id < 0 {
			if err == nil {
				t.Errorf("ImageChipID(%s) = %d, want an error", tc.chip, id)
			}
			continue
		}
		if err != nil || int(id) != tc.id {
			t.Errorf("ImageChipID(%s) = %d, %v; want %d", tc.chip, id, err, tc.id)
		}
		if name, ok := ChipForImageID(uint16(tc.id)); !ok || name != tc.chip {
			t.Errorf("ChipForImageID(%d) = %q, %v; want %s", tc.id, name, ok, tc.chip)
		}
	}
	if _, ok := ChipForImageID(0x1234); ok {
		t.Error("ChipForImageID(0x1234) found a chip")
	}
}

func TestCanonicalChip(t *testing.T) {
	for in, want := range map[string]string{
		"esp8266": "ESP8266", "ESP32": "ESP32", "esp32c3": "ESP32-C3", "Esp32-C61": "ESP32-C61",
		" esp32-s3 ": "ESP32-S3", "ESP32P4": "ESP32-P4",
	} {
		if got, err := CanonicalChip(in); err != nil || got != want {
			t.Errorf("CanonicalChip(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := CanonicalChip("esp31")
	if err == nil || !strings.Contains(err.Error(), "ESP32-C61") {
		t.Errorf("CanonicalChip(esp31) error = %v, want one listing the chips", err)
	}
	if !IsESP8266("esp8266") || IsESP8266("ESP32") {
		t.Error("IsESP8266 wrong")
	}
}

func TestFlashModes(t *testing.T) {
	for i, n := range []string{"qio", "qout", "dio", "dout"} {
		c, err := FlashModeCode(strings.ToUpper(n))
		if err != nil || int(c) != i {
			t.Errorf("FlashModeCode(%s) = %d, %v; want %d", n, c, err, i)
		}
		if got, err := FlashModeName(byte(i)); err != nil || got != n {
			t.Errorf("FlashModeName(%d) = %q, %v", i, got, err)
		}
	}
	if _, err := FlashModeCode("fast"); err == nil || !strings.Contains(err.Error(), "qio, qout, dio, dout") {
		t.Errorf("FlashModeCode(fast) error = %v", err)
	}
	if _, err := FlashModeName(4); err == nil {
		t.Error("FlashModeName(4) succeeded")
	}
}

func TestFlashSizeCodes(t *testing.T) {
	// esp-serial-protocol.md §14.2.
	tests := []struct {
		chip, name string
		code       byte
	}{
		{"ESP8266", "512KB", 0x0}, {"ESP8266", "256KB", 0x1}, {"ESP8266", "1MB", 0x2},
		{"ESP8266", "2MB", 0x3}, {"ESP8266", "4MB", 0x4}, {"ESP8266", "2MB-c1", 0x5},
		{"ESP8266", "4MB-c1", 0x6}, {"ESP8266", "8MB", 0x8}, {"ESP8266", "16MB", 0x9},
		{"ESP32", "1MB", 0x0}, {"ESP32", "2MB", 0x1}, {"ESP32", "4MB", 0x2}, {"ESP32", "8MB", 0x3},
		{"ESP32", "16MB", 0x4}, {"ESP32-S3", "32MB", 0x5}, {"ESP32-P4", "64MB", 0x6}, {"ESP32-C3", "128MB", 0x7},
	}
	for _, tc := range tests {
		c, err := FlashSizeCode(tc.chip, strings.ToLower(tc.name))
		if err != nil || c != tc.code {
			t.Errorf("FlashSizeCode(%s, %s) = %x, %v; want %x", tc.chip, tc.name, c, err, tc.code)
		}
		if n, err := FlashSizeName(tc.chip, tc.code); err != nil || n != tc.name {
			t.Errorf("FlashSizeName(%s, %x) = %q, %v; want %s", tc.chip, tc.code, n, err, tc.name)
		}
	}
	_, err := FlashSizeCode("ESP32", "512KB")
	if err == nil || !strings.Contains(err.Error(), "1MB, 2MB, 4MB, 8MB, 16MB, 32MB, 64MB, 128MB") {
		t.Errorf("FlashSizeCode(ESP32, 512KB) error = %v", err)
	}
	if _, err := FlashSizeName("ESP8266", 0x7); err == nil {
		t.Error("FlashSizeName(ESP8266, 7) succeeded")
	}
	names, _ := FlashSizeNames("ESP8266")
	if strings.Join(names, ",") != "512KB,256KB,1MB,2MB,4MB,2MB-c1,4MB-c1,8MB,16MB" {
		t.Errorf("FlashSizeNames(ESP8266) = %v", names)
	}
	for name, want := range map[string]uint32{"256KB": 256 << 10, "2mb-C1": 2 << 20, "128MB": 128 << 20} {
		if got, err := FlashSizeBytes(name); err != nil || got != want {
			t.Errorf("FlashSizeBytes(%s) = %d, %v", name, got, err)
		}
	}
	if _, err := FlashSizeBytes("3MB"); err == nil {
		t.Error("FlashSizeBytes(3MB) succeeded")
	}
}

func TestFlashFreqCodes(t *testing.T) {
	// esp-serial-protocol.md §14.2 frequency table.
	tests := []struct {
		chip, name string
		code       byte
	}{
		{"ESP8266", "80m", 0xF}, {"ESP8266", "40m", 0x0}, {"ESP8266", "26m", 0x1}, {"ESP8266", "20m", 0x2},
		{"ESP32-S3", "80m", 0xF}, {"ESP32-C3", "26m", 0x1}, {"ESP32-P4", "20m", 0x2},
		{"ESP32-C2", "60m", 0xF}, {"ESP32-C2", "30m", 0x0}, {"ESP32-C2", "20m", 0x1}, {"ESP32-C2", "15m", 0x2},
		{"ESP32-H2", "48m", 0xF}, {"ESP32-H2", "24m", 0x0}, {"ESP32-H2", "16m", 0x1}, {"ESP32-H2", "12m", 0x2},
		{"ESP32-C6", "80m", 0x0}, {"ESP32-C6", "40m", 0x0}, {"ESP32-C6", "20m", 0x2},
		{"ESP32-C5", "80m", 0xF}, {"ESP32-C5", "40m", 0x0}, {"ESP32-C61", "20m", 0x2},
	}
	for _, tc := range tests {
		c, err := FlashFreqCode(tc.chip, strings.ToUpper(tc.name))
		if err != nil || c != tc.code {
			t.Errorf("FlashFreqCode(%s, %s) = %x, %v; want %x", tc.chip, tc.name, c, err, tc.code)
		}
	}
	// Code 0 on the C6 stands for both; esptool's image_info shows 80m.
	if n, _ := FlashFreqName("ESP32-C6", 0); n != "80m" {
		t.Errorf("FlashFreqName(C6, 0) = %q, want 80m", n)
	}
	if n, _ := FlashFreqName("ESP8266", 0xF); n != "80m" {
		t.Errorf("FlashFreqName(ESP8266, F) = %q", n)
	}
	_, err := FlashFreqCode("ESP32-C6", "26m")
	if err == nil || !strings.Contains(err.Error(), "80m, 40m, 20m") {
		t.Errorf("FlashFreqCode(C6, 26m) error = %v", err)
	}
	if _, err := FlashFreqName("ESP32-C5", 1); err == nil {
		t.Error("FlashFreqName(C5, 1) succeeded")
	}
	if _, err := FlashFreqCode("ESP99", "40m"); err == nil {
		t.Error("unknown chip accepted")
	}
}
