package doctor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/serialmon"
	"github.com/iotbench/iotbench/serialmon/decode"
	"github.com/iotbench/iotbench/virtualboard"
	"github.com/iotbench/iotbench/virtualboard/esp32fw"
)

// bootLoopOf is n boots of an ESP32-C3 whose bootloader prints errLines,
// 400 ms apart: enough for the decoder's reset-loop detection.
func bootLoopOf(n int, errLines ...string) []Line {
	var out []Line
	at := t0
	add := func(s string) {
		out = append(out, Line{At: at, Text: s, Baud: 115200})
		at = at.Add(10 * time.Millisecond)
	}
	for i := 0; i < n; i++ {
		at = t0.Add(time.Duration(i) * 400 * time.Millisecond)
		add("ESP-ROM:esp32c3-api1-20210207")
		add("rst:0x3 (RTC_SW_SYS_RESET),boot:0xc (SPI_FAST_FLASH_BOOT)")
		add("load:0x3fcd5820,len:5908")
		add("entry 0x403cc710")
		for _, l := range errLines {
			add(l)
		}
	}
	return out
}

// The bootloader's reason outranks the reset loop it causes: one finding
// at the image step with the reason's fix, carrying the error line, the
// "not bootable" lines and the loop as evidence; no finding left that
// blames the power supply.
func TestBootloaderReasonOutranksResetLoop(t *testing.T) {
	cases := []struct {
		name, code, line, fix string
	}{
		{"wrong chip", SymAppChip, "\x1b[0;31mE (123) boot_comm: mismatch chip ID, expected 5, found 9\x1b[0m", "idf.py set-target esp32c3"},
		{"no app", SymAppMissing, "E (130) esp_image: image at 0x10000 has invalid magic byte (nothing flashed here?)", "iotbench write-flash 0x10000 app.bin"},
		{"checksum", SymAppCorrupt, "E (140) esp_image: Checksum failed. Calculated 0x5c read 0x5d", "write the app again"},
		{"hash", SymAppCorrupt, "E (150) esp_image: Image hash failed - image is corrupt", "iotbench image-info"},
		{"no table", SymPartitionTable, "E (48) boot: Failed to verify partition table", "iotbench partitions write"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lines := bootLoopOf(4, c.line,
				"E (160) boot: OTA app partition slot 0 is not bootable",
				"E (161) boot: No bootable app partitions in the partition table")
			events := serialEvents(lines)
			if !hasKind(events, decode.KindBootLoop) {
				t.Fatalf("the log is not a reset loop: %v", kindsOf(events))
			}
			r := Diagnose(Input{Lines: lines, Decode: decode.Options{Chip: "ESP32-C3"}, Seen: no(), Topic: "t"})
			top := r.Top()
			if top == nil || top.Code != c.code || top.StepName != "image" || top.Level != "error" || !strings.Contains(top.Fix, c.fix) {
				t.Fatalf("top finding %+v\nall: %+v", top, r.Findings)
			}
			plain := strings.NewReplacer("\x1b[0;31m", "", "\x1b[0m", "").Replace(c.line)
			if !strings.Contains(top.Evidence[0].Text, plain) || !hasEvidence(top, "No bootable app partitions") {
				t.Fatalf("evidence %+v lacks %q", top.Evidence, plain)
			}
			for _, f := range r.Findings {
				if f.Code == SymImage || f.Code == SymAppNotBootable {
					t.Fatalf("symptom left beside its cause: %+v", f)
				}
			}
		})
	}
	// Without a reason, "no bootable app" is the finding, still ahead of
	// the loop (it comes first) and with a fix that names the app.
	lines := bootLoopOf(4, "E (161) boot: No bootable app partitions in the partition table")
	r := Diagnose(Input{Lines: lines, Decode: decode.Options{Chip: "ESP32-C3"}})
	if top := r.Top(); top == nil || top.Code != SymAppNotBootable || !strings.Contains(top.Fix, "iotbench write-flash 0x10000 app.bin") {
		t.Fatalf("top %+v", top)
	}
	// Another bootloader error has its own code at the image step.
	lines = bootLoopOf(1, "E (60) boot: ota data partition invalid and no factory, will try all partitions")
	r = Diagnose(Input{Lines: lines, Decode: decode.Options{Chip: "ESP32-C3"}})
	if !r.Has(SymBootloader) {
		t.Fatalf("%+v", r.Findings)
	}
}

// End to end: a virtual ESP32-C3 boots from flash holding (a) an app
// built for the ESP32-S3, (b) a corrupted app, (c) no app. Its serial
// output goes through a monitor session (bytes read in whatever chunks
// the port gives, split into lines there), the decoder and the doctor;
// the top finding names the cause and the fix.
func TestVirtualESP32BadAppDiagnosis(t *testing.T) {
	const chip = "ESP32-C3"
	pt, err := layout.ESP32DefaultTable("default", 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	app, err := pt.BootApp()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		edit     func(img []byte)
		code     string
		line     string // the bootloader's line, as evidence
		fix      string
		summary  string
		kindWant string
	}{
		{"wrong chip", func(img []byte) {
			s3, err := esp32fw.App("ESP32-S3", 1)
			if err != nil {
				t.Fatal(err)
			}
			copy(img[app.Offset:], s3)
		}, SymAppChip, "boot_comm: mismatch chip ID, expected 5, found 9", "idf.py set-target esp32c3", "built for the ESP32-S3 but this chip is an ESP32-C3", decode.KindBootChipID},
		{"corrupt", func(img []byte) { img[app.Offset+0x30] ^= 0x01 }, SymAppCorrupt,
			"esp_image: Checksum failed. Calculated 0x", "iotbench write-flash 0x10000 app.bin", "the app image is corrupt", decode.KindBootAppCorrupt},
		{"no app", func(img []byte) {
			for i := app.Offset; i < uint32(len(img)); i++ {
				img[i] = 0xFF
			}
		}, SymAppMissing, "esp_image: image at 0x10000 has invalid magic byte (nothing flashed here?)", "iotbench write-flash 0x10000 app.bin", "nothing is flashed at 0x10000", decode.KindBootNoApp},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img, err := esp32fw.Merged(chip, pt, 1)
			if err != nil {
				t.Fatal(err)
			}
			c.edit(img)
			lines := bootVirtual(t, chip, img, c.line, 3)
			events := serialEvents(lines)
			if !hasKind(events, c.kindWant) {
				t.Fatalf("no %s in %v", c.kindWant, kindsOf(events))
			}
			r := Diagnose(Input{Lines: lines, Decode: decode.Options{Chip: chip}, Seen: no(), Topic: "iotbench/esp32c3-000001/telemetry"})
			top := r.Top()
			if top == nil || top.Code != c.code || top.StepName != "image" || !strings.Contains(top.Summary, c.summary) || !strings.Contains(top.Fix, c.fix) {
				t.Fatalf("top finding %+v\nall: %+v", top, r.Findings)
			}
			if !strings.Contains(top.Evidence[0].Text, c.line) {
				t.Fatalf("evidence %+v lacks %q", top.Evidence, c.line)
			}
			if r.Healthy {
				t.Fatal("healthy")
			}
		})
	}
}

// bootVirtual flashes img into a fresh virtual board of chip, resets it
// into flash boot under a monitor session and returns the lines it
// printed once want has been seen n times (it fails after 10 s).
func bootVirtual(t *testing.T, chip string, img []byte, want string, n int) []Line {
	t.Helper()
	b, err := virtualboard.New(virtualboard.Config{Chip: chip, Speed: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	b.Flash().Load(0, img)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := serialmon.StartSession(ctx, serialmon.SessionOptions{Port: "virtual", Baud: 115200,
		OpenPort: func(ctx context.Context, spec string, baud int) (flasher.Port, error) {
			p, err := b.Port()
			if err != nil {
				return nil, err
			}
			return p, p.SetBaudRate(baud)
		},
		ListPorts: func() ([]serialmon.PortInfo, error) { return nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	b.Reset(false)
	var lines []Line
	seen := 0
	deadline := time.After(10 * time.Second)
	for seen < n {
		select {
		case it, ok := <-s.Items():
			if !ok {
				t.Fatalf("session ended after %d lines", len(lines))
			}
			if it.Kind != serialmon.ItemLine {
				continue
			}
			lines = append(lines, Line{At: it.Time, Text: it.Text, Baud: it.Baud})
			if strings.Contains(it.Text, want) {
				seen++
			}
		case <-deadline:
			t.Fatalf("%q seen %d times in 10 s, want %d; lines: %+v", want, seen, n, lines)
		}
	}
	return lines
}

func serialEvents(lines []Line) []decode.Event {
	_, _, events := serialFindings(lines, decode.Options{Chip: "ESP32-C3"})
	return events
}

func hasKind(events []decode.Event, kind string) bool {
	for _, e := range events {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

func kindsOf(events []decode.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Kind)
	}
	return out
}

func hasEvidence(f *Finding, text string) bool {
	for _, e := range f.Evidence {
		if strings.Contains(e.Text, text) {
			return true
		}
	}
	return false
}
