package image

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Describe writes a human-readable account of the image modelled on
// esptool's image_info (the "--version 2" layout, esptool 5's default):
// header, extended header, segment table, footer with checksum, digest and
// CRC verdicts, then any warnings. This is the only place the text layout
// lives; the CLI prints it as is.
func (im *Image) Describe(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format+"\n", args...) }
	title := func(t string) { p("%s\n%s", t, strings.Repeat("=", len(t))) }
	chip := strings.ToUpper(im.Chip)

	title(chip + " image header")
	p("Image version: %d", im.Version)
	if im.Entry != 0 {
		p("Entry point: 0x%08x", uint32(im.Entry))
	} else {
		p("Entry point not set")
	}
	p("Segments: %d", len(im.Segments))
	if im.FlashSizeName != "" {
		p("Flash size: %s", im.FlashSizeName)
	} else {
		p("WARNING: Invalid flash size (0x%02x)", im.FlashSizeCode<<4)
	}
	if im.FlashFreqName != "" {
		p("Flash freq: %s", im.FlashFreqName)
	} else {
		p("WARNING: Invalid flash frequency (0x%x)", im.FlashFreqCode)
	}
	if im.FlashModeName != "" {
		p("Flash mode: %s", strings.ToUpper(im.FlashModeName))
	} else {
		p("WARNING: Invalid flash mode (%d)", im.FlashMode)
	}

	if e := im.Extended; e != nil {
		p("")
		title(chip + " extended image header")
		wp := fmt.Sprintf("WP pin: 0x%x", e.WPPin)
		if e.WPPin == WPPinDisabled {
			wp += " (disabled)"
		}
		p("%s", wp)
		p("Flash pins drive settings: clk_drv: 0x%x, q_drv: 0x%x, d_drv: 0x%x, cs0_drv: 0x%x, hd_drv: 0x%x, wp_drv: 0x%x",
			e.ClkDrv, e.QDrv, e.DDrv, e.CSDrv, e.HDDrv, e.WPDrv)
		name, ok := ChipForImageID(e.ChipID)
		if !ok {
			name = "Unknown ID"
		}
		p("Chip ID: %d (%s)", e.ChipID, name)
		p("Minimal chip revision: v%d.%d, (legacy min_rev = %d)", e.MinRevFull/100, e.MinRevFull%100, e.MinRev)
		p("Maximal chip revision: v%d.%d", e.MaxRevFull/100, e.MaxRevFull%100)
	}
	p("")

	title("Segments information")
	p("%7s  %7s  %10s  %10s  %s", "Segment", "Length", "Load addr", "File offs", "Memory types")
	p("%s  %s  %s  %s  %s", strings.Repeat("-", 7), strings.Repeat("-", 7), strings.Repeat("-", 10),
		strings.Repeat("-", 10), strings.Repeat("-", 12))
	for _, s := range im.Segments {
		mem := strings.Join(s.MemoryTypes, ", ")
		switch {
		case im.Format == FormatESP8266V2 && !s.InChecksum:
			mem = "irom0 (flash-mapped, load address set by flash offset)"
		case s.FlashMapped:
			mem = strings.TrimSpace(mem + " (flash-mapped)")
		}
		p("%7d  0x%05x  0x%08x  0x%08x  %s", s.Index, s.Length, uint32(s.LoadAddr), s.FileOffset, mem)
	}
	p("")

	title(chip + " image footer")
	if im.ChecksumValid {
		p("Checksum: 0x%02x (valid)", im.Checksum)
	} else {
		p("Checksum: 0x%02x (invalid - calculated 0x%02x)", im.Checksum, im.ComputedChecksum)
	}
	if d := im.SHA256; d != nil {
		verdict := "valid"
		switch {
		case len(d.Stored) < digestLen:
			verdict = fmt.Sprintf("invalid - truncated, %d of 32 bytes stored", len(d.Stored))
		case !d.Valid:
			verdict = fmt.Sprintf("invalid - stored %x", []byte(d.Stored))
		}
		p("Validation hash: %x (%s)", []byte(d.Computed), verdict)
	} else if im.Extended != nil {
		p("Validation hash: Not appended")
	}
	if v := im.V2; v != nil {
		switch {
		case !v.CRCPresent:
			p("CRC32: missing (calculated 0x%08x)", uint32(v.ComputedCRC))
		case v.CRCValid:
			p("CRC32: 0x%08x (valid)", uint32(v.StoredCRC))
		default:
			p("CRC32: 0x%08x (invalid - calculated 0x%08x)", uint32(v.StoredCRC), uint32(v.ComputedCRC))
		}
	}
	p("Image length: %d bytes", im.Length)
	if extra := im.FileSize - im.Length; extra > 0 {
		p("Trailing data: %d bytes after the image", extra)
	}
	if len(im.Warnings) > 0 {
		p("")
		title("Warnings")
		for _, w := range im.Warnings {
			p("- %s", w)
		}
	}
	return bw.Flush()
}
