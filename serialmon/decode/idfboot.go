package decode

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/iotbench/iotbench/flasher/target"
)

// ESP-IDF log lines and the second-stage bootloader's errors.
//
// Facts (ESP-IDF master, read for this decoder):
//   - components/log: a line is LOG_COLOR_x "X (%u) %s: " format
//     LOG_RESET_COLOR, X one of E W I D V; with colours enabled the colour
//     is "\x1b[0;3Nm" and the reset "\x1b[0m" (Line strips both). With the
//     system-time source the timestamp reads "hh:mm:ss.mmm" instead of
//     milliseconds since boot.
//   - bootloader_support tags: boot, boot.<chip>, boot_comm, boot_tee,
//     esp_image, flash_parts, qio_mode, bootloader_flash, bootloader_mmap,
//     secure_boot*, flash_encrypt.
//   - bootloader_common_loader.c (boot_comm): "mismatch chip ID, expected
//     %d, found %d" — expected is the chip the bootloader was built for
//     (= the chip it runs on), found the app image's header;
//     "chip revision check failed. Required >= v%d.%d, found v%d.%d."
//     (older releases: "can't run on lower chip revision, expected %d,
//     found %d").
//   - esp_image_format.c (esp_image): "image at 0x%x has invalid magic byte
//     (nothing flashed here?)", "image at 0x%x segment count %d exceeds
//     max %d", "Checksum failed. Calculated 0x%x read 0x%x", "Image hash
//     failed - image is corrupt", "Image length %u doesn't fit in partition
//     length %u", "Segment %d 0x%08x-0x%08x invalid: %s", "invalid segment
//     length 0x%x".
//   - bootloader_utility.c (boot): "Factory app partition is not bootable",
//     "Factory test app partition is not bootable", "OTA app partition slot
//     %d is not bootable", "No bootable app partitions in the partition
//     table", "Failed to verify partition table"; bootloader_init:
//     "load partition table error!".
//
// Only the bootloader's lines before the application starts are decoded
// as boot.* kinds: an ESP-IDF app logs with the same tags when it checks
// an OTA image, and those failures are not why the board does not boot.
// Bootloader I/D/V lines are recognised but produce no event: a normal
// ESP-IDF boot prints 20–40 of them (partition table, segments), and one
// note per line would bury the events that matter; they still count as
// boot output, not application output. Bootloader W lines become Warning
// events (KindBootIDFWarning): there are few, and they explain odd boots
// ("PRO CPU has been reset by WDT"). E lines of the application that no
// other decoder claims become KindIDFError.

var (
	reANSI   = regexp.MustCompile("\x1b\\[[0-9;]*m")
	reIDFLog = regexp.MustCompile(`^([EWIDV]) \((\d+|\d{1,2}:\d{2}:\d{2}\.\d{3})\) ([A-Za-z0-9_.\-]+): ?(.*)$`)

	reIDFChipID   = regexp.MustCompile(`^mismatch chip ID, expected (\d+), found (\d+)`)
	reIDFChipRev  = regexp.MustCompile(`^(?:chip revision check failed\. Required ([<>]=) (v\d+\.\d+), found (v\d+\.\d+)|can't run on (lower|higher) chip revision, expected (\S+), found (\S+))`)
	reIDFMagic    = regexp.MustCompile(`^image at 0x([0-9a-fA-F]+) has invalid magic byte`)
	reIDFChecksum = regexp.MustCompile(`^Checksum failed\. Calculated 0x([0-9a-fA-F]+) read 0x([0-9a-fA-F]+)`)
	reIDFSegCount = regexp.MustCompile(`^image at 0x([0-9a-fA-F]+) segment count (\d+) exceeds max (\d+)`)
	reIDFSegment  = regexp.MustCompile(`^(?:Segment \d+ 0x[0-9a-fA-F]+-0x[0-9a-fA-F]+ invalid|invalid segment length|unaligned segment length|Segment \d+ load address)`)
	reIDFLength   = regexp.MustCompile(`^(?:Image length (\d+) doesn't fit|image at 0x([0-9a-fA-F]+) does not fit) in partition length (\d+)`)
	reIDFSlot     = regexp.MustCompile(`^(Factory app|Factory test app|Test app|OTA app) partition(?: slot (\d+))? is not bootable`)
)

// IDFLine is one ESP-IDF log line: "E (123) boot: message".
type IDFLine struct {
	Level   byte   // 'E', 'W', 'I', 'D' or 'V'
	Time    string // milliseconds since boot, or "hh:mm:ss.mmm"
	Tag     string
	Message string
}

// stripANSI removes the colour sequences ESP-IDF (and idf.py monitor
// captures) put around log lines.
func stripANSI(s string) string {
	if strings.IndexByte(s, 0x1b) < 0 {
		return s
	}
	return reANSI.ReplaceAllString(s, "")
}

// ParseIDFLine parses an ESP-IDF log line (colour codes allowed, a
// trailing "\r" ignored). ok is false for anything else.
func ParseIDFLine(line string) (IDFLine, bool) {
	t := strings.TrimRight(stripANSI(line), "\r\n \t")
	m := reIDFLog.FindStringSubmatch(t)
	if m == nil {
		return IDFLine{}, false
	}
	return IDFLine{Level: m[1][0], Time: m[2], Tag: m[3], Message: strings.TrimSpace(m[4])}, true
}

// isBootloaderTag: the tags of ESP-IDF's bootloader_support component.
func isBootloaderTag(tag string) bool {
	switch tag {
	case "boot", "boot_comm", "boot_tee", "esp_image", "flash_parts", "qio_mode",
		"bootloader_flash", "bootloader_mmap", "flash_encrypt":
		return true
	}
	return strings.HasPrefix(tag, "boot.") || strings.HasPrefix(tag, "secure_boot")
}

// chipOfID names an ESP32-family chip ID (esp-serial-protocol.md §8.2,
// the table in flasher/target).
func chipOfID(s string) string {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return ""
	}
	if c := target.ByImageID(n); c != nil {
		return c.Name
	}
	return ""
}

// idfTarget is ESP-IDF's target name of a chip ("ESP32-C3" → "esp32c3").
func idfTarget(chip string) string {
	return strings.ToLower(strings.ReplaceAll(chip, "-", ""))
}

// The fixes name the default app offset (arduino-esp32's and ESP-IDF's
// default tables put the first app at 0x10000, filesystem-images.md
// §1.2) and how to see the board's own.
const (
	fixAppOffset = "the app partition's offset (0x10000 in the default partition tables; iotbench partitions shows the board's)"
	fixImageInfo = "iotbench image-info app.bin shows which chip an image is for and whether its checksum and SHA-256 hold"
)

// idfBootLine decodes a line of the second-stage bootloader. handled is
// false when the line is not one (not an ESP-IDF line, a tag outside
// bootloader_support, or the application already runs).
func (d *Decoder) idfBootLine(line string, at time.Time) (evs []Event, handled bool) {
	l, ok := ParseIDFLine(line)
	if !ok || d.appRan || !isBootloaderTag(l.Tag) {
		return nil, false
	}
	f := map[string]string{"level": string(l.Level), "tag": l.Tag, "message": l.Message, "time": l.Time}
	ev := func(kind string, sev Severity, summary, fix string) []Event {
		return []Event{{Kind: kind, Severity: sev, At: at, Summary: summary, Fix: fix, Evidence: []string{clip(line)}, Fields: f}}
	}
	switch l.Level {
	case 'W':
		return ev(KindBootIDFWarning, Warning, "bootloader warning ("+l.Tag+"): "+l.Message, ""), true
	case 'E':
	default:
		return nil, true
	}
	msg := l.Message
	if m := reIDFChipID.FindStringSubmatch(msg); m != nil {
		f["expected"], f["found"] = m[1], m[2]
		want, got := chipOfID(m[1]), chipOfID(m[2])
		f["expected_chip"], f["found_chip"] = want, got
		wantW, gotW := "a chip with ID "+m[1], "an unknown chip (ID "+m[2]+")"
		if want != "" {
			wantW = "an " + want
		}
		if got != "" {
			gotW = "the " + got
		}
		fix := "rebuild the app for this chip"
		if want != "" {
			fix = fmt.Sprintf("rebuild the app for the %s (idf.py set-target %s; in Arduino or PlatformIO pick an %s board)", want, idfTarget(want), want)
		}
		fix += " and write it at " + fixAppOffset + " with iotbench write-flash 0x10000 app.bin (or iotbench provision --app merged.bin); " + fixImageInfo
		return ev(KindBootChipID, Error,
			fmt.Sprintf("the app was built for %s but this chip is %s: the bootloader refuses it (chip ID %s, expected %s)", gotW, wantW, m[2], m[1]), fix), true
	}
	if m := reIDFChipRev.FindStringSubmatch(msg); m != nil {
		req, found := m[2], m[3]
		dir := m[1]
		if m[4] != "" {
			req, found, dir = m[5], m[6], map[string]string{"lower": ">=", "higher": "<="}[m[4]]
		}
		f["required"], f["found_rev"], f["bound"] = dir+" "+req, found, dir
		return ev(KindBootChipRev, Error,
			fmt.Sprintf("the app needs chip revision %s %s but this chip is %s: the bootloader refuses it", dir, req, found),
			"rebuild the app with a minimum/maximum chip revision that includes this chip (idf.py menuconfig → Component config → Hardware Settings → Chip revision) and write it again at "+fixAppOffset+"; "+fixImageInfo), true
	}
	if m := reIDFMagic.FindStringSubmatch(msg); m != nil {
		off := "0x" + strings.ToLower(m[1])
		f["offset"] = off
		return ev(KindBootNoApp, Error,
			"nothing is flashed at "+off+" where the bootloader looks for the app (invalid magic byte: erased or never written)",
			"write the app image there: iotbench write-flash "+off+" app.bin, or iotbench provision --app merged.bin (a merge-bin image with bootloader, partition table and app); "+fixImageInfo), true
	}
	corrupt := func(check, summary string) ([]Event, bool) {
		f["check"] = check
		return ev(KindBootAppCorrupt, Error, summary,
			"write the app again at "+fixAppOffset+": iotbench write-flash 0x10000 app.bin verifies what it wrote; check the file first with "+fixImageInfo+"; if a good image keeps failing, the flash or its power is bad"), true
	}
	if m := reIDFChecksum.FindStringSubmatch(msg); m != nil {
		f["calculated"], f["read"] = "0x"+strings.ToLower(m[1]), "0x"+strings.ToLower(m[2])
		return corrupt("checksum", fmt.Sprintf("the app image is corrupt: its checksum fails (calculated %s, stored %s)", f["calculated"], f["read"]))
	}
	if strings.HasPrefix(msg, "Image hash failed") {
		return corrupt("sha256", "the app image is corrupt: its SHA-256 digest does not match")
	}
	if m := reIDFSegCount.FindStringSubmatch(msg); m != nil {
		f["offset"] = "0x" + strings.ToLower(m[1])
		return corrupt("segments", fmt.Sprintf("the app image at %s is corrupt: %s segments (at most %s)", f["offset"], m[2], m[3]))
	}
	if reIDFSegment.MatchString(msg) {
		return corrupt("segments", "the app image is corrupt: a segment is invalid ("+msg+")")
	}
	if m := reIDFLength.FindStringSubmatch(msg); m != nil {
		f["check"], f["partition_size"] = "length", m[3]
		if m[2] != "" {
			f["offset"] = "0x" + strings.ToLower(m[2])
		}
		return ev(KindBootAppCorrupt, Error,
			"the app image does not fit in its partition ("+m[3]+" bytes): too big for the partition table, or cut off",
			"use a partition table with a larger app partition (iotbench provision --partitions FILE|SCHEME) or a smaller app, then write the app again at "+fixAppOffset+"; "+fixImageInfo), true
	}
	if m := reIDFSlot.FindStringSubmatch(msg); m != nil {
		part := map[string]string{"Factory app": "factory", "Factory test app": "test", "Test app": "test"}[m[1]]
		if m[2] != "" {
			part = "ota_" + m[2]
		}
		f["partition"] = part
		return ev(KindBootNotBootable, Warning,
			"the bootloader rejected the app in partition "+part,
			"the error line before this one says why; write a valid app for this chip at that partition's offset (iotbench partitions shows it)"), true
	}
	if strings.HasPrefix(msg, "No bootable app partitions") || strings.HasPrefix(msg, "No bootable test partition") {
		f["partition"] = ""
		return ev(KindBootNotBootable, Error,
			"no app partition holds a valid app: the bootloader resets and tries again (a boot loop)",
			"write an app built for this chip at "+fixAppOffset+" with iotbench write-flash 0x10000 app.bin, or iotbench provision --app merged.bin; the error lines before this one say why the app was refused"), true
	}
	if l.Tag == "flash_parts" || strings.Contains(msg, "partition table") && (strings.HasPrefix(msg, "Failed to verify") || strings.HasPrefix(msg, "load partition table")) {
		return ev(KindBootPartitionTable, Error,
			"the bootloader found no valid partition table at 0x8000 ("+msg+")",
			"write a partition table: iotbench partitions write partitions.csv, or iotbench provision --partitions default (or --app merged.bin, whose table is at 0x8000)"), true
	}
	return ev(KindBootIDFError, Error, "bootloader error ("+l.Tag+"): "+msg,
		"if the board then resets in a loop, write bootloader, partition table and app built for this chip together: iotbench provision --app merged.bin"), true
}

// idfAppError is an ESP-IDF E line of the running application that no
// other decoder explained. Warning, not Error: apps log recoverable
// conditions (a Wi-Fi retry, a socket timeout) at level E too.
func idfAppError(line string, at time.Time) []Event {
	l, ok := ParseIDFLine(line)
	if !ok || l.Level != 'E' {
		return nil
	}
	return []Event{{Kind: KindIDFError, Severity: Warning, At: at, Evidence: []string{clip(line)},
		Summary: "ESP-IDF error (" + l.Tag + "): " + l.Message,
		Fields:  map[string]string{"level": "E", "tag": l.Tag, "message": l.Message, "time": l.Time}}}
}
