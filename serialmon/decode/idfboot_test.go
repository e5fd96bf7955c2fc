package decode

import (
	"strings"
	"testing"
)

// colour wraps a line as ESP-IDF prints it with colours enabled
// (components/log: LOG_COLOR_E "E (…) tag: " format LOG_RESET_COLOR).
func colour(level byte, line string) string {
	c := map[byte]string{'E': "31", 'W': "33", 'I': "32"}[level]
	if c == "" {
		return line
	}
	return "\x1b[0;" + c + "m" + line + "\x1b[0m"
}

// A C3 ROM start and its loader trace as real C3s print them (public
// boot logs: a Build: line, Saved PC after a reset, SPIWP alone, lengths
// in hex), so that what follows is the second-stage bootloader.
const c3ROM = "ESP-ROM:esp32c3-api1-20210207\r\n" +
	"Build:Feb  7 2021\r\n" +
	"rst:0x1 (POWERON_RESET),boot:0xc (SPI_FAST_FLASH_BOOT)\r\n" +
	"Saved PC:0x40048d14\r\n" +
	"SPIWP:0xee\r\n" +
	"mode:DIO, clock div:1\r\n" +
	"load:0x3fcd5820,len:0x1714\r\n" +
	"load:0x403cc710,len:0x968\r\n" +
	"entry 0x403cc710\r\n"

// The newer ROMs' start is one reset and one loader trace, not app output.
func TestC3ROMStart(t *testing.T) {
	d := NewDecoder(Options{})
	evs := feed(d, c3ROM)
	if len(evs) != 3 || evs[0].Kind != KindROMID || evs[1].Kind != KindROMBanner || evs[2].Kind != KindROMLoader {
		t.Fatalf("%s", kinds(evs))
	}
	check(t, evs[2], Info, "2 segments, flash mode DIO, entry 0x403cc710", "", map[string]string{"segments": "2"})
	if d.appRan || d.bannerCounter != 1 {
		t.Fatalf("app ran %v, %d resets counted", d.appRan, d.bannerCounter)
	}
}

func TestIDFBootloaderErrors(t *testing.T) {
	cases := []struct {
		line, kind   string
		sev          Severity
		summary, fix string
		fields       map[string]string
	}{
		{"E (123) boot_comm: mismatch chip ID, expected 5, found 9", KindBootChipID, Error,
			"built for the ESP32-S3 but this chip is an ESP32-C3", "idf.py set-target esp32c3",
			map[string]string{"expected": "5", "found": "9", "expected_chip": "ESP32-C3", "found_chip": "ESP32-S3", "tag": "boot_comm", "level": "E", "time": "123"}},
		{"E (97) boot_comm: mismatch chip ID, expected 0, found 13", KindBootChipID, Error,
			"built for the ESP32-C6 but this chip is an ESP32", "iotbench write-flash 0x10000 app.bin",
			map[string]string{"expected_chip": "ESP32", "found_chip": "ESP32-C6"}},
		{"E (97) boot_comm: mismatch chip ID, expected 16, found 12", KindBootChipID, Error,
			"built for the ESP32-C2 but this chip is an ESP32-H2", "iotbench image-info app.bin",
			map[string]string{"expected_chip": "ESP32-H2", "found_chip": "ESP32-C2"}},
		{"E (97) boot_comm: mismatch chip ID, expected 2, found 77", KindBootChipID, Error,
			"built for an unknown chip (ID 77) but this chip is an ESP32-S2", "esp32s2",
			map[string]string{"found_chip": ""}},
		{"E (40) boot_comm: chip revision check failed. Required >= v0.4, found v0.3.", KindBootChipRev, Error,
			"needs chip revision >= v0.4 but this chip is v0.3", "Chip revision",
			map[string]string{"bound": ">=", "found_rev": "v0.3"}},
		{"E (40) boot_comm: can't run on lower chip revision, expected 3, found 1", KindBootChipRev, Error,
			"needs chip revision >= 3", "", map[string]string{"found_rev": "1"}},
		{"E (130) esp_image: image at 0x10000 has invalid magic byte (nothing flashed here?)", KindBootNoApp, Error,
			"nothing is flashed at 0x10000", "iotbench write-flash 0x10000 app.bin", map[string]string{"offset": "0x10000", "tag": "esp_image"}},
		{"E (140) esp_image: Checksum failed. Calculated 0x5c read 0x5d", KindBootAppCorrupt, Error,
			"checksum fails (calculated 0x5c, stored 0x5d)", "write the app again", map[string]string{"check": "checksum", "calculated": "0x5c", "read": "0x5d"}},
		{"E (150) esp_image: Image hash failed - image is corrupt", KindBootAppCorrupt, Error,
			"SHA-256", "iotbench image-info", map[string]string{"check": "sha256"}},
		{"E (52) esp_image: image at 0x20000 segment count 200 exceeds max 16", KindBootAppCorrupt, Error,
			"200 segments", "", map[string]string{"check": "segments", "offset": "0x20000"}},
		{"E (52) esp_image: Segment 3 0x3fc80000-0x3fd00000 invalid: bad load address range", KindBootAppCorrupt, Error,
			"a segment is invalid", "", map[string]string{"check": "segments"}},
		{"E (52) esp_image: Image length 1500000 doesn't fit in partition length 1048576", KindBootAppCorrupt, Error,
			"does not fit in its partition (1048576 bytes)", "larger app partition", map[string]string{"check": "length", "partition_size": "1048576"}},
		{"E (160) boot: Factory app partition is not bootable", KindBootNotBootable, Warning,
			"partition factory", "error line before", map[string]string{"partition": "factory"}},
		{"E (161) boot: OTA app partition slot 0 is not bootable", KindBootNotBootable, Warning,
			"partition ota_0", "", map[string]string{"partition": "ota_0"}},
		{"E (161) boot: Factory test app partition is not bootable", KindBootNotBootable, Warning,
			"partition test", "", map[string]string{"partition": "test"}},
		{"E (162) boot: No bootable app partitions in the partition table", KindBootNotBootable, Error,
			"no app partition holds a valid app", "iotbench provision --app merged.bin", map[string]string{"partition": ""}},
		{"E (48) boot: Failed to verify partition table", KindBootPartitionTable, Error,
			"no valid partition table", "iotbench partitions write", nil},
		{"E (49) boot: load partition table error!", KindBootPartitionTable, Error,
			"no valid partition table", "", nil},
		{"E (47) flash_parts: partition 0 invalid magic number 0xffff", KindBootPartitionTable, Error,
			"partition 0 invalid magic number", "", map[string]string{"tag": "flash_parts"}},
		{"E (60) boot: ota data partition invalid, falling back to factory", KindBootIDFError, Error,
			"bootloader error (boot): ota data partition invalid", "", map[string]string{"message": "ota data partition invalid, falling back to factory"}},
		{"E (00:00:00.061) boot.esp32c3: something odd", KindBootIDFError, Error,
			"bootloader error (boot.esp32c3)", "", map[string]string{"time": "00:00:00.061", "tag": "boot.esp32c3"}},
		{"W (31) boot: PRO CPU has been reset by WDT.", KindBootIDFWarning, Warning,
			"bootloader warning (boot): PRO CPU has been reset by WDT.", "", map[string]string{"level": "W"}},
	}
	for _, c := range cases {
		for _, variant := range []string{c.line, c.line + "\r", colour(c.line[0], c.line) + "\r"} {
			evs := decodeText(c3ROM + variant + "\n")
			e := one(t, evs, c.kind)
			wellFormed(t, e)
			check(t, e, c.sev, c.summary, c.fix, c.fields)
			if e.Evidence[0] != c.line {
				t.Errorf("evidence %q, want the line without colour codes or CR", e.Evidence[0])
			}
		}
	}
}

// What the virtual board (and a real one) prints for an app built for
// another chip: the cause, the slot, the verdict, then a reset — and the
// same again. Each line decodes to its own kind, and none of them counts
// as the application running.
func TestIDFBootLoopOfWrongChip(t *testing.T) {
	boot := c3ROM +
		"\x1b[0;31mE (123) boot_comm: mismatch chip ID, expected 5, found 9\x1b[0m\r\n" +
		"\x1b[0;31mE (123) boot: OTA app partition slot 0 is not bootable\x1b[0m\r\n" +
		"\x1b[0;31mE (124) boot: No bootable app partitions in the partition table\x1b[0m\r\n"
	d := NewDecoder(Options{Chip: "ESP32-C3"})
	evs := feed(d, boot+boot)
	var got []string
	for _, e := range evs {
		if strings.HasPrefix(e.Kind, "boot.") {
			got = append(got, e.Kind)
		}
	}
	want := strings.Repeat(KindBootChipID+" "+KindBootNotBootable+" "+KindBootNotBootable+" ", 2)
	if strings.Join(got, " ")+" " != want {
		t.Fatalf("got %v, want %s (all: %s)", got, want, kinds(evs))
	}
	if d.appRan {
		t.Fatal("bootloader lines counted as the application running")
	}
	for _, e := range evs {
		if !IsBootKind(e.Kind) {
			t.Fatalf("%s is not a boot kind", e.Kind)
		}
	}
	if IsBootKind(KindResetInfo) || IsBootKind(KindIDFError) || IsBootKind(KindWiFiUp) {
		t.Fatal("application kinds taken for boot kinds")
	}
}

// ESP-IDF's normal boot chatter is boot output, not events; the app's
// lines after it are the app's, and an esp_image error printed by the
// running app (an OTA check) is not a boot failure.
func TestIDFNormalBootThenApp(t *testing.T) {
	log := c3ROM +
		"I (30) boot: ESP-IDF v5.1.2 2nd stage bootloader\r\n" +
		"I (30) boot: compile time Jan  1 2024 00:00:00\r\n" +
		"\x1b[0;32mI (59) boot: Partition Table:\x1b[0m\r\n" +
		"I (80) esp_image: segment 0: paddr=00010020 vaddr=3c020020 size=0a4e0h ( 42208) map\r\n" +
		"D (81) boot: debug chatter\r\n" +
		"I (140) boot: Loaded app from partition at offset 0x10000\r\n"
	d := NewDecoder(Options{Chip: "ESP32-C3"})
	evs := feed(d, log)
	for _, e := range evs {
		if strings.HasPrefix(e.Kind, "boot.") || e.Kind == KindIDFError {
			t.Fatalf("normal boot decoded as %s: %+v", e.Kind, e)
		}
	}
	if d.appRan {
		t.Fatal("bootloader info lines counted as the application")
	}
	evs = feed(d, "I (200) cpu_start: Pro cpu start user code\r\n"+
		"\x1b[0;31mE (5000) esp_image: Checksum failed. Calculated 0x1 read 0x2\x1b[0m\r\n"+
		"E (5100) wifi:Association refused temporarily, comeback time 200 mSec\r\n")
	if !d.appRan {
		t.Fatal("cpu_start did not mark the application as running")
	}
	if len(evs) != 2 {
		t.Fatalf("%s", kinds(evs))
	}
	check(t, evs[0], Warning, "ESP-IDF error (esp_image): Checksum failed", "", map[string]string{"tag": "esp_image", "time": "5000"})
	check(t, evs[1], Warning, "ESP-IDF error (wifi): Association refused", "", map[string]string{"tag": "wifi"})
	for _, e := range evs {
		if e.Kind != KindIDFError {
			t.Fatalf("%s", kinds(evs))
		}
		wellFormed(t, e)
	}
	// The task watchdog keeps its own decoder, colours or not.
	e := one(t, feed(d, "\x1b[0;31mE (9000) task_wdt: Task watchdog got triggered. The following tasks did not reset the watchdog in time:\x1b[0m"), KindCrashWDT)
	if e.Fields["wdt"] != "task" {
		t.Fatalf("%+v", e)
	}
	// A reset starts a new bootloader run.
	one(t, feed(d, c3ROM+"E (130) esp_image: image at 0x10000 has invalid magic byte (nothing flashed here?)\r\n"), KindBootNoApp)
}

func TestParseIDFLine(t *testing.T) {
	l, ok := ParseIDFLine("\x1b[0;33mW (1234) spi_flash: Detected size(4096k) larger\x1b[0m\r\n")
	if !ok || l.Level != 'W' || l.Time != "1234" || l.Tag != "spi_flash" || l.Message != "Detected size(4096k) larger" {
		t.Fatalf("%+v %v", l, ok)
	}
	// ESP-IDF's wifi driver prints without a space after the colon.
	l, ok = ParseIDFLine("I (5100) wifi:mode : sta (84:f7:03:00:00:01)")
	if !ok || l.Tag != "wifi" || l.Message != "mode : sta (84:f7:03:00:00:01)" {
		t.Fatalf("%+v %v", l, ok)
	}
	for _, s := range []string{
		"E (12) ", "E (x) boot: m", "X (12) boot: m", "E 12 boot: m", "E (12)boot: m",
		"Error (12) boot: m", "rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)",
		"[E][WiFiClient.cpp:517] flush(): fail on fd 48, errno: 11",
	} {
		if l, ok := ParseIDFLine(s); ok {
			t.Errorf("%q parsed as %+v", s, l)
		}
	}
}

// ParseIDFLine reads any bytes: no panic, and what it accepts it
// accepts consistently (its parts come from the line).
func FuzzParseIDFLine(f *testing.F) {
	for _, s := range []string{
		"E (123) boot_comm: mismatch chip ID, expected 5, found 9",
		"\x1b[0;31mE (130) esp_image: image at 0x10000 has invalid magic byte (nothing flashed here?)\x1b[0m\r",
		"I (5100) wifi:mode : sta",
		"W (00:00:01.250) boot.esp32: x",
		"E (1",
		"\x1b[",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, ok := ParseIDFLine(s)
		if !ok {
			return
		}
		if !strings.ContainsRune("EWIDV", rune(l.Level)) || l.Tag == "" || l.Time == "" {
			t.Fatalf("%q → %+v", s, l)
		}
		clean := stripANSI(s)
		if !strings.Contains(clean, l.Tag) || !strings.Contains(clean, l.Message) {
			t.Fatalf("%q → %+v: parts not from the line", s, l)
		}
	})
}
