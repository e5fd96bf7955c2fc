package image

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// BuildSegment is a segment to put into an image: its load address and
// contents.
type BuildSegment struct {
	Addr uint32
	Data []byte
}

// Builder produces firmware images. Start from NewBuilder, which fills in
// the defaults esptool's elf2image uses; the zero Builder is valid but has
// WP pin 0 and, for non-ESP32 chips, the wrong chip ID.
//
// Segments are written in the order given, each padded with zeros to a
// multiple of 4 like esptool's ImageSegment. Unlike elf2image the builder
// does not reorder segments or insert padding segments to align
// flash-mapped segments to 64 KiB (esp-serial-protocol.md §14.4); images
// that the cache must map need their segments laid out by the caller.
type Builder struct {
	Chip  string
	Entry uint32
	// FlashMode, FlashSize and FlashFreq are names for Chip ("dio",
	// "4MB", "40m"); an empty name writes code 0.
	FlashMode string
	FlashSize string
	FlashFreq string
	Segments  []BuildSegment
	// Ext is written as the ESP32-family extended header, verbatim
	// (ChipID included, so tests can build mismatched images). Ignored for
	// the ESP8266. Ext.HashAppended appends the SHA-256 digest.
	Ext ExtendedHeader
}

// NewBuilder returns a Builder for chip with esptool's defaults: WP pin
// disabled, the chip's image ID, revisions 0 to "not set", and a SHA-256
// digest appended on ESP32-family chips.
func NewBuilder(chip string) (*Builder, error) {
	c, err := lookupChip(chip)
	if err != nil {
		return nil, err
	}
	b := &Builder{Chip: c.name}
	if c.hasID {
		b.Ext = ExtendedHeader{WPPin: WPPinDisabled, ChipID: c.imageID, MaxRevFull: 0xFFFF, HashAppended: true}
	}
	return b, nil
}

// flashBytes returns header bytes 2 and 3 for the builder's flash names.
func (b *Builder) flashBytes(c *chipInfo) (mode, sizeFreq byte, err error) {
	var sz, fr byte
	if b.FlashMode != "" {
		if mode, err = FlashModeCode(b.FlashMode); err != nil {
			return 0, 0, err
		}
	}
	if b.FlashSize != "" {
		if sz, err = FlashSizeCode(c.name, b.FlashSize); err != nil {
			return 0, 0, err
		}
	}
	if b.FlashFreq != "" {
		if fr, err = FlashFreqCode(c.name, b.FlashFreq); err != nil {
			return 0, 0, err
		}
	}
	return mode, sz<<4 | fr, nil
}

func pad(data []byte, align int) []byte {
	if r := len(data) % align; r != 0 {
		return append(bytes.Clone(data), make([]byte, align-r)...)
	}
	return data
}

// writeLoadable appends a 0xE9 header (and extended header when ext is not
// nil), the segments and the checksum to buf.
func writeLoadable(buf *bytes.Buffer, c *chipInfo, mode, sizeFreq byte, entry uint32, ext *ExtendedHeader, segs []BuildSegment, firstIdx int) error {
	if firstIdx+len(segs) > MaxSegments {
		return fmt.Errorf("%s image: %d segments, at most %d are allowed", c.name, firstIdx+len(segs), MaxSegments)
	}
	var h [headerLen]byte
	h[0], h[1], h[2], h[3] = Magic, byte(len(segs)), mode, sizeFreq
	binary.LittleEndian.PutUint32(h[4:], entry)
	buf.Write(h[:])
	if ext != nil {
		buf.Write(ext.encode())
	}
	sum := byte(ChecksumSeed)
	for i, s := range segs {
		d := pad(s.Data, 4)
		if len(d) >= MaxSegmentLen {
			return fmt.Errorf("%s image: segment %d (load address 0x%08x) is 0x%x bytes, over the 16 MiB limit",
				c.name, firstIdx+i, s.Addr, len(d))
		}
		var sh [segHeaderLen]byte
		binary.LittleEndian.PutUint32(sh[0:], s.Addr)
		binary.LittleEndian.PutUint32(sh[4:], uint32(len(d)))
		buf.Write(sh[:])
		buf.Write(d)
		sum = Checksum(sum, d)
	}
	// Zero padding until the length is 15 mod 16, then the checksum (§14.1).
	buf.Write(make([]byte, 15-buf.Len()%16))
	buf.WriteByte(sum)
	return nil
}

// Build produces an ESP8266 v1 image or an ESP32-family image, depending
// on b.Chip.
func (b *Builder) Build() ([]byte, error) {
	c, err := lookupChip(b.Chip)
	if err != nil {
		return nil, err
	}
	mode, sf, err := b.flashBytes(c)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	var ext *ExtendedHeader
	if c.hasID {
		ext = &b.Ext
	}
	if err := writeLoadable(&buf, c, mode, sf, b.Entry, ext, b.Segments, 0); err != nil {
		return nil, err
	}
	if ext != nil && ext.HashAppended {
		sum := sha256.Sum256(buf.Bytes())
		buf.Write(sum[:])
	}
	return buf.Bytes(), nil
}

// BuildESP8266V2 produces an ESP8266 v2 image (esp-serial-protocol.md
// §14.3) the way esptool's elf2image --version 2 lays it out: exactly one
// segment must have an irom0 address (0x40200000–0x402fffff); it goes
// first with load address 0, padded to 16 bytes, and the other segments
// follow behind a normal 0xE9 header; a CRC32 trailer ends the file.
func (b *Builder) BuildESP8266V2() ([]byte, error) {
	c, err := lookupChip(b.Chip)
	if err != nil {
		return nil, err
	}
	if c.hasID {
		return nil, fmt.Errorf("the v2 image format is ESP8266 only, not %s", c.name)
	}
	mode, sf, err := b.flashBytes(c)
	if err != nil {
		return nil, err
	}
	var irom []byte
	nIROM := 0
	var rest []BuildSegment
	for _, s := range b.Segments {
		if c.flashMapped(s.Addr) {
			irom = s.Data
			nIROM++
			continue
		}
		rest = append(rest, s)
	}
	if nIROM != 1 {
		return nil, fmt.Errorf("an ESP8266 v2 image needs exactly one irom0 segment (load address 0x40200000-0x402fffff), got %d", nIROM)
	}
	irom = pad(irom, 16)
	if len(irom) >= MaxSegmentLen {
		return nil, fmt.Errorf("ESP8266 v2 image: irom0 segment is 0x%x bytes, over the 16 MiB limit", len(irom))
	}
	var buf bytes.Buffer
	var h [headerLen + segHeaderLen]byte
	h[0], h[1], h[2], h[3] = MagicESP8266V2, v2ExpectedCount, mode, sf
	binary.LittleEndian.PutUint32(h[4:], b.Entry)
	binary.LittleEndian.PutUint32(h[8:], 0)
	binary.LittleEndian.PutUint32(h[12:], uint32(len(irom)))
	buf.Write(h[:])
	buf.Write(irom)
	if err := writeLoadable(&buf, c, mode, sf, b.Entry, nil, rest, 1); err != nil {
		return nil, err
	}
	var crc [crcLen]byte
	binary.LittleEndian.PutUint32(crc[:], ESP8266CRC32(buf.Bytes()))
	buf.Write(crc[:])
	return buf.Bytes(), nil
}
