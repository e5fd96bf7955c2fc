package virtualboard

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/otadata"
	"github.com/iotbench/iotbench/virtualboard/esp32fw"
)

// readUntil reads what the host receives until out holds want n times,
// or fails after 5 s with what came.
func readUntil(t *testing.T, p *HostPort, want string, n int) string {
	t.Helper()
	var out []byte
	buf := make([]byte, 4096)
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(string(out), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("no %d× %q within 5 s; got %q", n, want, out)
		}
		p.SetReadTimeout(100 * time.Millisecond)
		k, err := p.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, buf[:k]...)
	}
	return string(out)
}

// flashBoot loads img at 0 into a fresh board of chip, resets it into
// flash boot and returns its port; app (may be nil) is its firmware.
func flashBoot(t *testing.T, chip string, img []byte, app App) *HostPort {
	t.Helper()
	b := newTestBoard(t, Config{Chip: chip, App: app})
	p, err := b.Port()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	p.SetBaudRate(115200)
	if img != nil {
		b.Flash().Load(0, img)
	}
	b.Reset(false)
	return p
}

func defaultTable(t *testing.T) *layout.PartitionTable {
	pt, err := layout.ESP32DefaultTable("default", 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	return pt
}

func merged(t *testing.T, chip string) []byte {
	img, err := esp32fw.Merged(chip, defaultTable(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// device-side.md §1.8: no bootloader → "invalid header: 0x..." with the
// word the ROM read, again and again; the ESP32's RTC watchdog then
// resets the chip (rst:0x10).
func TestESP32FamilyBlankFlashInvalidHeader(t *testing.T) {
	out := readUntil(t, flashBoot(t, "ESP32-C3", nil, nil), "invalid header: 0xffffffff\r\n", 3)
	if !strings.HasPrefix(out, "ESP-ROM:esp32c3\r\nrst:") || !strings.Contains(out, "boot:0x13 (SPI_FAST_FLASH_BOOT)") {
		t.Fatalf("banner: %q", out)
	}
	out = readUntil(t, flashBoot(t, "ESP32", nil, nil), "rst:0x10 (RTCWDT_RTC_RESET)", 1)
	if n := strings.Count(out, "invalid header: 0xffffffff"); n != invalidHeaderTries {
		t.Fatalf("%d invalid header lines before the watchdog, want %d: %q", n, invalidHeaderTries, out)
	}
	// Something that is not an image: its first word, little-endian.
	b := make([]byte, 8)
	copy(b, "gov\x00")
	out = readUntil(t, flashBoot(t, "ESP32-S3", b, nil), "invalid header: 0x00766f67", 2)
	if strings.Contains(out, "entry") {
		t.Fatalf("jumped somewhere: %q", out)
	}
}

// A bootloader, the default table and an app: the ROM's load/entry lines
// for the bootloader's segments at the chip's offset (0x1000 on the ESP32,
// 0x0 on the C3, esp-serial-protocol.md §14.4), then the app runs with the
// entry of the app image.
func TestESP32FamilyBootsApp(t *testing.T) {
	for _, chip := range []string{"ESP32", "ESP32-C3", "ESP32-S3"} {
		t.Run(chip, func(t *testing.T) {
			img := merged(t, chip)
			ran := make(chan uint32, 1)
			app := func(ctx context.Context, env *AppEnv) {
				env.Printf("app on %s\r\n", env.Chip())
				ran <- env.Entry
			}
			p := flashBoot(t, chip, img, app)
			out := readUntil(t, p, "app on "+chip, 1)
			var entry uint32
			select {
			case entry = <-ran:
			case <-time.After(5 * time.Second):
				t.Fatal("the app did not run")
			}
			blOff, _ := image.BootloaderOffset(chip)
			bl, err := image.Parse(img[blOff:], chip)
			if err != nil {
				t.Fatal(err)
			}
			var want strings.Builder
			for _, s := range bl.Segments {
				fmt.Fprintf(&want, "load:0x%08x,len:%d\r\n", uint32(s.LoadAddr), s.Length)
			}
			fmt.Fprintf(&want, "entry 0x%08x\r\n", uint32(bl.Entry))
			if !strings.Contains(out, want.String()) {
				t.Fatalf("want %q in %q", want.String(), out)
			}
			if got := strings.Contains(out, "configsip: 0, SPIWP:0xee\r\n"); got != (chip == "ESP32") {
				t.Fatalf("configsip line %v on %s: %q", got, chip, out)
			}
			at, _ := defaultTable(t).BootApp()
			app2, _ := image.Parse(img[at.Offset:], chip)
			if entry != uint32(app2.Entry) || entry == uint32(bl.Entry) {
				t.Fatalf("app entry 0x%x, image says 0x%x", entry, uint32(app2.Entry))
			}
			if strings.Contains(out, "E (") {
				t.Fatalf("bootloader errors on a good image: %q", out)
			}
		})
	}
	// The ESP32 bootloader at 0x0 (where the C3 has it) is not found.
	c3 := merged(t, "ESP32")
	out := readUntil(t, flashBoot(t, "ESP32", c3[0x1000:], nil), "invalid header: ", 2)
	if strings.Contains(out, "load:") {
		t.Fatalf("loaded a bootloader from the wrong offset: %q", out)
	}
}

// The bootloader refuses a bad app with ESP-IDF's lines and resets: the
// app never runs.
func TestESP32BootloaderRefusesBadApp(t *testing.T) {
	pt := defaultTable(t)
	at, _ := pt.BootApp()
	cases := map[string]struct {
		edit func(img []byte)
		want string
	}{
		"other chip": {func(img []byte) {
			s3, _ := esp32fw.App("ESP32-S3", 1)
			copy(img[at.Offset:], s3)
		}, "boot_comm: mismatch chip ID, expected 5, found 9"},
		"checksum": {func(img []byte) { img[at.Offset+0x30] ^= 0x01 }, "esp_image: Checksum failed. Calculated 0x"},
		"erased app": {func(img []byte) {
			for i := at.Offset; i < uint32(len(img)); i++ {
				img[i] = 0xFF
			}
		}, fmt.Sprintf("esp_image: image at 0x%x has invalid magic byte (nothing flashed here?)", at.Offset)},
		"no table": {func(img []byte) {
			for i := layout.PartitionTableOffset; i < layout.PartitionTableOffset+layout.PartitionTableSize; i++ {
				img[i] = 0xFF
			}
		}, "boot: Failed to verify partition table"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			img := merged(t, "ESP32-C3")
			c.edit(img)
			ran := make(chan struct{}, 1)
			p := flashBoot(t, "ESP32-C3", img, func(ctx context.Context, env *AppEnv) { ran <- struct{}{} })
			// Twice: the bootloader resets and fails again (a boot loop).
			out := readUntil(t, p, c.want, 2)
			if strings.Count(out, "ESP-ROM:esp32c3") < 2 {
				t.Fatalf("no reset after the failure: %q", out)
			}
			if name != "no table" && !strings.Contains(out, "boot: OTA app partition slot 0 is not bootable\r\n") {
				t.Fatalf("slot line missing: %q", out)
			}
			select {
			case <-ran:
				t.Fatal("the app ran")
			default:
			}
		})
	}
}

// checkApp reads whatever the app partition holds: an image or a reason
// in the bootloader's words, never a panic.
func FuzzCheckApp(f *testing.F) {
	app, err := esp32fw.App("ESP32-C3", 1)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(app)
	f.Add(app[:40])
	f.Add([]byte{0xE9, 17, 0, 0})
	f.Add([]byte{})
	p := layout.Partition{Type: layout.TypeApp, SubType: layout.SubTypeFactory, Offset: 0x10000, Size: 0x100000, Label: "factory"}
	f.Fuzz(func(t *testing.T, b []byte) {
		im, why := checkApp(b, "ESP32-C3", p)
		if (im == nil) == (why == "") {
			t.Fatalf("image %v with reason %q", im != nil, why)
		}
		if why != "" && !strings.Contains(why, ": ") {
			t.Fatalf("reason %q has no tag", why)
		}
	})
}

// otaFlash is a merged C3 image (app version 1 in app0) with version 2 in
// app1 and otadata holding e0 and e1 (nil = erased).
func otaFlash(t *testing.T, e0, e1 *otadata.Entry) (img []byte, app0, app1 []byte) {
	t.Helper()
	pt := defaultTable(t)
	img = merged(t, "ESP32-C3")
	p1, _ := pt.ByLabel("app1")
	od, _ := pt.ByLabel("otadata")
	app1, err := esp32fw.App("ESP32-C3", 2)
	if err != nil {
		t.Fatal(err)
	}
	full := make([]byte, p1.Offset+uint32(len(app1)))
	for i := range full {
		full[i] = 0xFF
	}
	copy(full, img)
	copy(full[p1.Offset:], app1)
	copy(full[od.Offset:], otadataBytes(e0, e1))
	p0, _ := pt.ByLabel("app0")
	return full, full[p0.Offset : p0.Offset+uint32(len(app1))], app1
}

// bootEntry boots img on a C3 and returns the entry the app was started
// at, the serial output and the board.
func bootEntry(t *testing.T, img []byte) (uint32, string, *Board) {
	t.Helper()
	e, out, b, _ := bootEntryPort(t, img)
	return e, out, b
}

// bootEntryPort is bootEntry that also returns the open port.
func bootEntryPort(t *testing.T, img []byte) (uint32, string, *Board, *HostPort) {
	t.Helper()
	ran := make(chan uint32, 1)
	b := newTestBoard(t, Config{Chip: "ESP32-C3", App: func(ctx context.Context, env *AppEnv) {
		env.Print("app up\r\n")
		ran <- env.Entry
	}})
	p, err := b.Port()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	p.SetBaudRate(115200)
	// Let the power-on boot find the flash blank first: one that found
	// img could write otadata before the reset below cut it short.
	readUntil(t, p, "invalid header", 1)
	b.Flash().Load(0, img)
	b.Reset(false)
	out := readUntil(t, p, "app up", 1)
	select {
	case e := <-ran:
		return e, out, b, p
	case <-time.After(5 * time.Second):
		t.Fatal("the app did not run")
	}
	return 0, "", nil, nil
}

func entryOf(t *testing.T, app []byte) uint32 {
	im, err := image.Parse(app, "ESP32-C3")
	if err != nil {
		t.Fatal(err)
	}
	return uint32(im.Entry)
}

// The bootloader boots the OTA slot the otadata entry with the highest
// valid seq selects (bootloader_utility.c), says so in the board's log
// in the real bootloader's words, and falls back as ESP-IDF does.
//
// App rollback (arduino-esp32's bootloader is built with
// CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE): a NEW entry is made
// PENDING_VERIFY and its slot booted; a PENDING_VERIFY one (the app did
// not confirm itself; this test app never does, it runs no initArduino)
// is made ABORTED and the other slot booted. Those lines are DEBUG level,
// so nothing is printed but the ERROR line when no valid entry is left
// beside a corrupt one.
func TestESP32BootsSlotFromOTAData(t *testing.T) {
	corrupt := entry(2, otadata.StateUndefined)
	corrupt.CRC ^= 0x100
	corrupt3 := entry(3, otadata.StateValid)
	corrupt3.CRC ^= 0x100
	cases := []struct {
		name   string
		e0, e1 *otadata.Entry
		slot   int
		// after is otadata[1] in flash once booted (nil: e1), event a
		// board log line, printed the bootloader's error lines.
		after          *otadata.Entry
		event, printed string
	}{
		{"seq 2 selects app1", entry(1, otadata.StateUndefined), entry(2, otadata.StateUndefined), 1, nil, "", ""},
		{"seq 3 selects app0", entry(3, otadata.StateUndefined), entry(2, otadata.StateUndefined), 0, nil, "", ""},
		{"corrupt newer entry", entry(1, otadata.StateUndefined), corrupt, 0, nil, "", ""},
		{"aborted newer entry", entry(1, otadata.StateUndefined), entry(2, otadata.StateAborted), 0, nil, "", ""},
		{"new update", entry(1, otadata.StateUndefined), entry(2, otadata.StateNew), 1, entry(2, otadata.StatePendingVerify),
			"otadata[1] seq 2 NEW -> PENDING_VERIFY", ""},
		{"unconfirmed update", entry(1, otadata.StateUndefined), entry(2, otadata.StatePendingVerify), 0, entry(2, otadata.StateAborted),
			"otadata[1] seq 2 PENDING_VERIFY -> ABORTED (the app never confirmed itself: rolled back)", ""},
		{"unconfirmed beside a corrupt entry", corrupt3, entry(2, otadata.StatePendingVerify), 0, entry(2, otadata.StateAborted),
			"otadata[1] seq 2 PENDING_VERIFY -> ABORTED", "boot: ota data partition invalid and no factory, will try all partitions\r\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img, app0, app1 := otaFlash(t, c.e0, c.e1)
			got, out, b := bootEntry(t, img)
			want, off := entryOf(t, app0), uint32(0x10000)
			if c.slot == 1 {
				want, off = entryOf(t, app1), 0x150000
			}
			if got != want {
				t.Fatalf("entry 0x%x, want 0x%x (slot %d)", got, want, c.slot)
			}
			if c.printed == "" && strings.Contains(out, "E (") || !strings.Contains(out, c.printed) {
				t.Fatalf("serial output %q, want error lines %q", out, c.printed)
			}
			for _, line := range []string{fmt.Sprintf("flash boot: Loaded app from partition at offset 0x%x (app%d, ota_%d", off, c.slot, c.slot), c.event} {
				if !strings.Contains(strings.Join(b.Events(), "\n"), line) {
					t.Fatalf("no %q in the board log:\n%s", line, strings.Join(b.Events(), "\n"))
				}
			}
			od, _ := defaultTable(t).ByLabel("otadata")
			e, err := otadata.Parse(b.Flash().Read(od.Offset, int(od.Size)))
			if err != nil {
				t.Fatal(err)
			}
			if want := cmp.Or(c.after, c.e1); e[1] != *want || e[0] != *c.e0 {
				t.Fatalf("otadata after the boot %+v, want otadata[0] unchanged and otadata[1] %+v", e, *want)
			}
		})
	}
}

// otadata selects app1 but app1 does not verify: the bootloader says so
// and boots app0 (working backwards from the selected slot).
func TestESP32BootFallsBackToOtherSlot(t *testing.T) {
	img, app0, _ := otaFlash(t, entry(1, otadata.StateUndefined), entry(2, otadata.StateUndefined))
	img[0x150000+0x40] ^= 0xFF // a segment byte: the checksum fails
	got, out, _ := bootEntry(t, img)
	if got != entryOf(t, app0) {
		t.Fatalf("entry 0x%x, want app0's", got)
	}
	if !strings.Contains(out, "esp_image: Checksum failed.") || !strings.Contains(out, "boot: OTA app partition slot 1 is not bootable\r\n") {
		t.Fatalf("no failure lines for slot 1: %q", out)
	}
}

// Erased otadata (ESP-IDF's ota_data_initial.bin, or an erase) and no
// factory app: ota_0 boots ("No factory image, trying OTA 0") and the
// bootloader records it in otadata[0] before the app starts
// (set_actual_ota_seq: seq 1, state VALID); nothing else in flash
// changes, and the next boot selects ota_0 from that entry without
// writing again.
func TestESP32FirstBootWritesOTAData(t *testing.T) {
	img, app0, _ := otaFlash(t, nil, nil)
	got, _, b, p := bootEntryPort(t, img)
	if got != entryOf(t, app0) {
		t.Fatalf("entry 0x%x, want app0's", got)
	}
	log := strings.Join(b.Events(), "\n")
	if !strings.Contains(log, "(app0, ota_0; No factory image, trying OTA 0)") || !strings.Contains(log, "Set actual ota_seq=1 in otadata[0]") {
		t.Fatalf("board log:\n%s", log)
	}
	od, _ := defaultTable(t).ByLabel("otadata")
	// The app has run, so the write before it is done.
	want := otadataBytes(entry(1, otadata.StateValid), nil)
	if got := b.Flash().Read(od.Offset, int(od.Size)); !bytes.Equal(got, want) {
		t.Fatalf("otadata after the first boot:\n% x\nwant\n% x", got[:32], want[:32])
	}
	rest := bytes.Clone(img)
	copy(rest[od.Offset:], want)
	if !bytes.Equal(b.Flash().Read(0, len(img)), rest) {
		t.Fatal("the first boot changed flash outside otadata[0]")
	}
	erases, _ := b.Flash().Stats()
	b.Reset(false)
	readUntil(t, p, "app up", 1)
	if e, _ := b.Flash().Stats(); e != erases {
		t.Fatalf("the second boot erased %d sectors", e-erases)
	}
	if !strings.Contains(strings.Join(b.Events(), "\n"), "(app0, ota_0; otadata[0] seq 1)") {
		t.Fatalf("second boot:\n%s", strings.Join(b.Events(), "\n"))
	}
}

// From the initial state with app0 broken, the bootloader goes on to
// app1 and records the slot it booted: seq index+1 = 2.
func TestESP32FirstBootRecordsTheSlotItBooted(t *testing.T) {
	img, _, app1 := otaFlash(t, nil, nil)
	img[0x10000+0x40] ^= 0xFF
	got, _, b := bootEntry(t, img)
	if got != entryOf(t, app1) {
		t.Fatalf("entry 0x%x, want app1's", got)
	}
	od, _ := defaultTable(t).ByLabel("otadata")
	e, err := otadata.Parse(b.Flash().Read(od.Offset, int(od.Size)))
	if err != nil {
		t.Fatal(err)
	}
	if e[0] != *entry(2, otadata.StateValid) || e[1].Seq != 0xFFFFFFFF {
		t.Fatalf("otadata %+v, want otadata[0] seq 2 VALID", e)
	}
}

// arduino-esp32's merged image carries boot_app0.bin at 0xe000: the
// bootloader boots ota_0 from otadata[0] and writes nothing, so flash
// still matches the image (no set_actual_ota_seq).
func TestESP32BootsOTA0FromBootApp0(t *testing.T) {
	img := merged(t, "ESP32-C3")
	p0, _ := defaultTable(t).ByLabel("app0")
	got, _, b := bootEntry(t, img)
	if got != entryOf(t, img[p0.Offset:]) {
		t.Fatalf("entry 0x%x, want app0's", got)
	}
	if !strings.Contains(strings.Join(b.Events(), "\n"), "(app0, ota_0; otadata[0] seq 1)") {
		t.Fatalf("board log:\n%s", strings.Join(b.Events(), "\n"))
	}
	if !bytes.Equal(b.Flash().Read(0, len(img)), img) {
		t.Fatal("booting changed the flash")
	}
	if e, _ := b.Flash().Stats(); e != 0 {
		t.Fatalf("booting erased %d sectors", e)
	}
}
