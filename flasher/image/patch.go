package image

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
)

// Special values for PatchFlashParams' mode, size and freq arguments.
const (
	// Keep leaves a field as the image has it (esptool's default).
	Keep = "keep"
	// Detect (size only) uses the size read from the flash chip's JEDEC ID.
	Detect = "detect"
	// DefaultDetectedSize is what esptool assumes when --flash_size detect
	// cannot read the size (esp-serial-protocol.md §12.4).
	DefaultDetectedSize = "4MB"
)

// SecurityWarning is esptool's message for the case PatchFlashParams leaves
// to its caller: with Secure Download Mode or secure boot active the
// header must not be touched (esp-serial-protocol.md §14.5 condition 6).
const SecurityWarning = "Security features enabled, so not changing any flash settings."

// PatchFlashParams rewrites header bytes 2–3 of data the way esptool's
// write_flash does (--flash_mode/--flash_size/--flash_freq), following
// esp-serial-protocol.md §14.5 and cmds.py _update_image_flash_params. It
// returns a modified copy; data itself is never changed, and out always has
// len(data) bytes.
//
// mode, size and freq are names for chip (any case) or Keep (an empty
// string also means Keep, so unset CLI flags need no translation); size may
// also be Detect, in which case detectedSize (the name the JEDEC ID gave, e.g.
// "4MB") is used. An empty detectedSize means detection failed: like
// esptool's detect_flash_size, 4MB is assumed and a warning returned.
//
// Call it with data as it will be written (after padding) and addr as the
// address it will be written at. The rewrite happens only when all of §14.5
// holds:
//  1. data has at least 8 bytes;
//  2. addr is the chip's bootloader offset;
//  3. not all of mode, size, freq are Keep;
//  4. byte 0 is 0xE9 (else a warning);
//  5. data parses as the chip's bootloader image, v1 for the ESP8266
//     (else a warning);
//  6. no security features are active. This package cannot know that: the
//     caller must not call PatchFlashParams when Secure Download Mode or
//     secure boot is on, and should print SecurityWarning instead.
//
// On an ESP32-family image whose extended header has the SHA-256 flag the
// appended digest is recomputed over the modified image, even if bytes 2–3
// did not change (esptool does the same, so a stale digest gets repaired).
// Unlike esptool, a digest cut short by the end of data is left alone with
// a warning instead of being appended, so the length never changes.
//
// Names that are not valid for the chip are an error whether or not the
// rewrite applies (esptool only fails when it gets as far as using them);
// an invalid detectedSize is an error only when it is used, as in esptool.
// changed reports whether out differs from data. esptool prints "Flash
// params set to 0x%02x%02x" with out[2], out[3] when those bytes changed.
func PatchFlashParams(data []byte, chip string, addr uint32, mode, size, freq string, detectedSize string) (out []byte, changed bool, warnings []string, err error) {
	c, err := lookupChip(chip)
	if err != nil {
		return nil, false, nil, err
	}
	isKeep := func(s string) bool { s = strings.TrimSpace(s); return s == "" || strings.EqualFold(s, Keep) }
	sizeDetect := strings.EqualFold(strings.TrimSpace(size), Detect)
	if !isKeep(mode) {
		if _, err := FlashModeCode(mode); err != nil {
			return nil, false, nil, fmt.Errorf("%w (or keep)", err)
		}
	}
	if !isKeep(size) && !sizeDetect {
		if _, err := FlashSizeCode(c.name, size); err != nil {
			return nil, false, nil, fmt.Errorf("%w (or keep, detect)", err)
		}
	}
	if !isKeep(freq) {
		if _, err := FlashFreqCode(c.name, freq); err != nil {
			return nil, false, nil, fmt.Errorf("%w (or keep)", err)
		}
	}

	out = bytes.Clone(data)
	if out == nil {
		out = []byte{}
	}
	if len(data) < headerLen { // condition 1
		return out, false, nil, nil
	}
	if addr != c.blOffset { // condition 2
		return out, false, nil, nil
	}
	if isKeep(mode) && isKeep(size) && isKeep(freq) { // condition 3
		return out, false, nil, nil
	}
	if data[0] != Magic { // condition 4
		return out, false, []string{fmt.Sprintf(
			"Image file at 0x%x doesn't look like an image file, so not changing any flash settings.", addr)}, nil
	}
	// Condition 5. With byte 0 == 0xE9 Parse reads an ESP8266 file as v1,
	// the only ESP8266 format the ROM boots.
	im, perr := Parse(data, c.name)
	if perr != nil {
		return out, false, []string{fmt.Sprintf(
			"Image file at 0x%x is not a valid %s image (%v), so not changing any flash settings.", addr, c.name, perr)}, nil
	}

	newMode := data[2]
	if !isKeep(mode) {
		newMode, _ = FlashModeCode(mode)
	}
	sizeNib, freqNib := data[3]>>4, data[3]&0xF
	switch {
	case sizeDetect:
		name := strings.TrimSpace(detectedSize)
		if name == "" {
			name = DefaultDetectedSize
			warnings = append(warnings, "Could not auto-detect flash size, defaulting to "+DefaultDetectedSize+".")
		}
		if sizeNib, err = FlashSizeCode(c.name, name); err != nil {
			return nil, false, warnings, fmt.Errorf("detected flash size: %w", err)
		}
	case !isKeep(size):
		sizeNib, _ = FlashSizeCode(c.name, size)
	}
	if !isKeep(freq) {
		freqNib, _ = FlashFreqCode(c.name, freq)
	}
	out[2] = newMode
	out[3] = sizeNib<<4 | freqNib

	// The digest covers bytes 2–3, so it is stale now (§14.5). Parse has
	// already checked that byte 23 (extended header byte 15) is 0 or 1.
	if d := im.SHA256; d != nil {
		if len(d.Stored) < digestLen {
			warnings = append(warnings, fmt.Sprintf(
				"SHA-256 digest at 0x%x is truncated (%d of 32 bytes), so it was not recomputed.", d.Offset, len(d.Stored)))
		} else {
			sum := sha256.Sum256(out[:im.DataLength])
			copy(out[d.Offset:], sum[:])
		}
	}
	return out, !bytes.Equal(out, data), warnings, nil
}
