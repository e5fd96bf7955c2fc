package image

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"strconv"
)

// Format constants (esp-serial-protocol.md §14).
const (
	// Magic is byte 0 of every loadable image header (§14.1).
	Magic = 0xE9
	// MagicESP8266V2 is byte 0 of an ESP8266 "v2" image (§14.3).
	MagicESP8266V2 = 0xEA
	// ChecksumSeed starts the XOR over all segment data (§14.1).
	ChecksumSeed = 0xEF
	// MaxSegments is the most segments the ROM loader accepts (§14.1).
	MaxSegments = 16
	// MaxSegmentLen bounds a segment's length: it must be below 16 MiB (§14.1).
	MaxSegmentLen = 16 << 20
	// WPPinDisabled in extended header byte 0 tells the ROM not to use a WP pin (§14.4).
	WPPinDisabled = 0xEE

	headerLen    = 8
	extHeaderLen = 16
	segHeaderLen = 8
	digestLen    = sha256.Size
	crcLen       = 4
	// v2ExpectedCount is the constant "segment count" esptool writes in the
	// first v2 header; it is not a count at all (bin_image.py IMAGE_V2_SEGMENT).
	v2ExpectedCount = 4
)

// Format says which layout an Image was parsed as.
type Format string

// The image layouts this package knows.
const (
	FormatESP8266V1 Format = "esp8266-v1"
	FormatESP8266V2 Format = "esp8266-v2"
	FormatESP32     Format = "esp32"
)

// Hex32 is a 32-bit value (an address) that renders as 0x%08x in JSON, as
// people compare them with linker maps.
type Hex32 uint32

// MarshalText renders the value as 0x%08x.
func (h Hex32) MarshalText() ([]byte, error) {
	return []byte(fmt.Sprintf("0x%08x", uint32(h))), nil
}

// UnmarshalText accepts 0x-prefixed hex or decimal.
func (h *Hex32) UnmarshalText(b []byte) error {
	v, err := strconv.ParseUint(string(b), 0, 32)
	if err != nil {
		return err
	}
	*h = Hex32(v)
	return nil
}

// HexBytes renders as a lowercase hex string in JSON (digests).
type HexBytes []byte

// MarshalText renders the bytes as lowercase hex.
func (h HexBytes) MarshalText() ([]byte, error) {
	return []byte(hex.EncodeToString(h)), nil
}

// UnmarshalText parses lowercase or uppercase hex.
func (h *HexBytes) UnmarshalText(b []byte) error {
	v, err := hex.DecodeString(string(b))
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// Segment is one segment as found in a file.
type Segment struct {
	// Index counts from 0 in file order, as esptool's image_info table does.
	// In an ESP8266 v2 image index 0 is the irom0 segment.
	Index    int    `json:"index"`
	LoadAddr Hex32  `json:"load_addr"`
	Length   uint32 `json:"length"`
	// FileOffset is where the segment's 8-byte header starts (esptool's
	// "file_offs"); its data starts at DataOffset = FileOffset+8.
	FileOffset int `json:"file_offset"`
	DataOffset int `json:"data_offset"`
	// MemoryTypes names the chip memories containing LoadAddr (esptool's
	// "Memory types" column); empty when the address is in none.
	MemoryTypes []string `json:"memory_types,omitempty"`
	// FlashMapped is true for segments the cache maps onto flash (ESP8266
	// irom0 at 0x40200000–0x402fffff, ESP32-family IROM/DROM windows, and
	// the v2 irom0 segment); the ROM copies every other segment to RAM.
	FlashMapped bool `json:"flash_mapped"`
	// InChecksum is false only for the ESP8266 v2 irom0 segment, which sits
	// before the loadable header and is covered by the CRC32 instead.
	InChecksum bool `json:"in_checksum"`
	// Data aliases the slice given to Parse; copy it before modifying.
	Data []byte `json:"-"`
}

// ExtendedHeader is the 16 bytes after the common header in ESP32-family
// images (esp-serial-protocol.md §14.4).
type ExtendedHeader struct {
	WPPin byte `json:"wp_pin"`
	// Drive strengths, one nibble each (byte 1: CLK low/Q high, byte 2:
	// D low/CS high, byte 3: HD low/WP high).
	ClkDrv byte   `json:"clk_drv"`
	QDrv   byte   `json:"q_drv"`
	DDrv   byte   `json:"d_drv"`
	CSDrv  byte   `json:"cs_drv"`
	HDDrv  byte   `json:"hd_drv"`
	WPDrv  byte   `json:"wp_drv"`
	ChipID uint16 `json:"chip_id"`
	// MinRev is the legacy single-byte minimum revision.
	MinRev byte `json:"min_rev"`
	// MinRevFull and MaxRevFull are major*100+minor; MaxRevFull 0xFFFF
	// means "not set" and 0 means the image predates these fields.
	MinRevFull uint16  `json:"min_rev_full"`
	MaxRevFull uint16  `json:"max_rev_full"`
	Reserved   [4]byte `json:"reserved"`
	// HashAppended is byte 15: a SHA-256 digest follows the checksum.
	HashAppended bool `json:"hash_appended"`
}

func (e *ExtendedHeader) encode() []byte {
	b := make([]byte, extHeaderLen)
	b[0] = e.WPPin
	b[1] = e.ClkDrv&0xF | e.QDrv<<4
	b[2] = e.DDrv&0xF | e.CSDrv<<4
	b[3] = e.HDDrv&0xF | e.WPDrv<<4
	binary.LittleEndian.PutUint16(b[4:], e.ChipID)
	b[6] = e.MinRev
	binary.LittleEndian.PutUint16(b[7:], e.MinRevFull)
	binary.LittleEndian.PutUint16(b[9:], e.MaxRevFull)
	copy(b[11:15], e.Reserved[:])
	if e.HashAppended {
		b[15] = 1
	}
	return b
}

func decodeExtHeader(b []byte) ExtendedHeader {
	var e ExtendedHeader
	e.WPPin = b[0]
	e.ClkDrv, e.QDrv = b[1]&0xF, b[1]>>4
	e.DDrv, e.CSDrv = b[2]&0xF, b[2]>>4
	e.HDDrv, e.WPDrv = b[3]&0xF, b[3]>>4
	e.ChipID = binary.LittleEndian.Uint16(b[4:])
	e.MinRev = b[6]
	e.MinRevFull = binary.LittleEndian.Uint16(b[7:])
	e.MaxRevFull = binary.LittleEndian.Uint16(b[9:])
	copy(e.Reserved[:], b[11:15])
	e.HashAppended = b[15] == 1
	return e
}

// Digest is the SHA-256 appended to ESP32-family images whose extended
// header byte 15 is 1 (esp-serial-protocol.md §14.4).
type Digest struct {
	// Offset is where the stored digest starts (the byte after the checksum).
	Offset int `json:"offset"`
	// Stored holds fewer than 32 bytes when the file ends inside the digest.
	Stored   HexBytes `json:"stored"`
	Computed HexBytes `json:"computed"`
	Valid    bool     `json:"valid"`
}

// V2Info holds what only ESP8266 v2 images have: the first header and the
// CRC32 trailer (esp-serial-protocol.md §14.3).
type V2Info struct {
	// The first header: "segment count" (4 in every esptool image), flash
	// bytes and entry. The loadable second header wins where they differ.
	FirstSegmentCount int   `json:"first_segment_count"`
	FirstFlashMode    byte  `json:"first_flash_mode"`
	FirstSizeFreq     byte  `json:"first_size_freq"`
	FirstEntry        Hex32 `json:"first_entry"`
	// CRCOffset is where the trailer starts (after the checksum byte).
	CRCOffset   int   `json:"crc_offset"`
	CRCPresent  bool  `json:"crc_present"`
	StoredCRC   Hex32 `json:"stored_crc"`
	ComputedCRC Hex32 `json:"computed_crc"`
	CRCValid    bool  `json:"crc_valid"`
}

// Image is a parsed firmware image. Fields describing the header come from
// the loadable 0xE9 header (the second header of an ESP8266 v2 image).
type Image struct {
	Chip   string `json:"chip"`
	Format Format `json:"format"`
	// Magic is byte 0 of the file (0xEA for v2, else 0xE9).
	Magic byte `json:"magic"`
	// Version is esptool's image version: 1 for ESP8266 v1 and ESP32-family
	// images, 2 for ESP8266 v2.
	Version int `json:"version"`
	// SegmentCount is byte 1 of the loadable header; for v2 the irom0
	// segment comes on top, so len(Segments) = SegmentCount+1.
	SegmentCount  int    `json:"segment_count"`
	FlashMode     byte   `json:"flash_mode"`
	FlashModeName string `json:"flash_mode_name,omitempty"`
	// FlashSizeCode and FlashFreqCode are the nibbles of header byte 3.
	FlashSizeCode byte   `json:"flash_size_code"`
	FlashSizeName string `json:"flash_size_name,omitempty"`
	FlashFreqCode byte   `json:"flash_freq_code"`
	FlashFreqName string `json:"flash_freq_name,omitempty"`
	Entry         Hex32  `json:"entry"`
	// HeaderOffset is where the loadable 0xE9 header starts (0 except v2).
	HeaderOffset int             `json:"header_offset"`
	Extended     *ExtendedHeader `json:"extended_header,omitempty"`
	Segments     []Segment       `json:"segments"`

	ChecksumOffset   int  `json:"checksum_offset"`
	Checksum         byte `json:"checksum"`
	ComputedChecksum byte `json:"computed_checksum"`
	ChecksumValid    bool `json:"checksum_valid"`

	// SHA256 is set when the extended header says a digest is appended.
	SHA256 *Digest `json:"sha256,omitempty"`
	V2     *V2Info `json:"v2,omitempty"`
	// DataLength counts the bytes up to and including the checksum: what
	// the SHA-256 covers.
	DataLength int `json:"data_length"`
	// Length counts every byte the image occupies: DataLength plus the
	// digest or CRC32 trailer as far as present. Bytes after it (merged
	// binaries, padding) are not part of the image.
	Length int `json:"length"`
	// FileSize is len(data) as given to Parse.
	FileSize int `json:"file_size"`
	// Warnings lists what is unusual but not fatal, where esptool warns.
	Warnings []string `json:"warnings,omitempty"`
}

// Checksum XORs data into state; the image checksum is
// Checksum(ChecksumSeed, seg0, seg1, …) (esp-serial-protocol.md §14.1).
func Checksum(state byte, data ...[]byte) byte {
	for _, d := range data {
		for _, b := range d {
			state ^= b
		}
	}
	return state
}

// ESP8266CRC32 is the trailer of ESP8266 v2 images: standard CRC-32, then
// inverted if bit 31 is set, else plus one (esp-serial-protocol.md §14.3,
// esptool's esp8266_crc32).
func ESP8266CRC32(data []byte) uint32 {
	crc := crc32.ChecksumIEEE(data)
	if crc&0x80000000 != 0 {
		return crc ^ 0xFFFFFFFF
	}
	return crc + 1
}

// Parse parses a firmware image for chip. For the ESP8266 the magic byte
// picks v1 (0xE9) or v2 (0xEA); every other chip takes the ESP32-family
// layout with its 16-byte extended header.
//
// Parse fails where esptool's loader fails (bad magic, fewer bytes than the
// headers and segments claim, more than 16 segments, a SHA-256 flag other
// than 0 or 1) and, unlike esptool, also on a segment of 16 MiB or more,
// which no loader accepts. Everything esptool merely warns about is
// reported in the Image. Bytes after the image are ignored.
func Parse(data []byte, chip string) (*Image, error) {
	c, err := lookupChip(chip)
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%s image: file is empty", c.name)
	}
	im := &Image{Chip: c.name, Magic: data[0], Version: 1, FileSize: len(data)}
	switch {
	case !c.hasID && data[0] == Magic:
		im.Format = FormatESP8266V1
		err = im.parseLoadable(c, data, 0, 0)
	case !c.hasID && data[0] == MagicESP8266V2:
		im.Format, im.Version = FormatESP8266V2, 2
		err = im.parseV2(c, data)
	case !c.hasID:
		err = fmt.Errorf("not an ESP8266 image: byte 0 is 0x%02x, expected 0x%02x (v1) or 0x%02x (v2)",
			data[0], Magic, MagicESP8266V2)
	case data[0] == Magic:
		im.Format = FormatESP32
		err = im.parseLoadable(c, data, 0, 0)
	default:
		hint := ""
		if data[0] == MagicESP8266V2 {
			hint = " (0xEA starts an ESP8266 v2 image)"
		}
		err = fmt.Errorf("not an %s image: byte 0 is 0x%02x, expected 0x%02x%s", c.name, data[0], Magic, hint)
	}
	if err != nil {
		return nil, err
	}
	im.fillNames(c)
	return im, nil
}

func (im *Image) warnf(format string, args ...any) {
	im.Warnings = append(im.Warnings, fmt.Sprintf(format, args...))
}

// readSegment reads the segment header at off and checks that its data
// fits in data; the error wording is shared by every layout.
func (im *Image) readSegment(c *chipInfo, data []byte, idx, off int) (Segment, error) {
	if len(data)-off < segHeaderLen {
		return Segment{}, fmt.Errorf("%s image: segment %d header at file offset 0x%x needs 8 bytes but only 0x%x remain: truncated or not an image",
			c.name, idx, off, len(data)-off)
	}
	addr := binary.LittleEndian.Uint32(data[off:])
	n := binary.LittleEndian.Uint32(data[off+4:])
	remain := len(data) - off - segHeaderLen
	if uint64(n) > uint64(remain) {
		return Segment{}, fmt.Errorf("%s image: segment %d at file offset 0x%x claims 0x%x bytes but only 0x%x remain: truncated or not an image",
			c.name, idx, off, n, remain)
	}
	if n >= MaxSegmentLen {
		return Segment{}, fmt.Errorf("%s image: segment %d at file offset 0x%x claims 0x%x bytes, over the 16 MiB limit: corrupt or not an image",
			c.name, idx, off, n)
	}
	if n%4 != 0 {
		im.warnf("segment %d at file offset 0x%x has length 0x%x, not a multiple of 4", idx, off, n)
	}
	start := off + segHeaderLen
	return Segment{
		Index:       idx,
		LoadAddr:    Hex32(addr),
		Length:      n,
		FileOffset:  off,
		DataOffset:  start,
		MemoryTypes: c.memoryTypes(addr),
		FlashMapped: c.flashMapped(addr),
		InChecksum:  true,
		Data:        data[start : start+int(n) : start+int(n)],
	}, nil
}

// parseLoadable parses a 0xE9 header at off (plus the extended header for
// ESP32-family chips), its segments and the checksum. firstIdx numbers the
// segments after any already read (the v2 irom0 segment).
func (im *Image) parseLoadable(c *chipInfo, data []byte, off, firstIdx int) error {
	if len(data)-off < headerLen {
		return fmt.Errorf("%s image: header at file offset 0x%x needs 8 bytes but only 0x%x remain: truncated or not an image",
			c.name, off, len(data)-off)
	}
	if data[off] != Magic {
		return fmt.Errorf("%s image: header at file offset 0x%x starts with 0x%02x, expected 0x%02x: corrupt or not an image",
			c.name, off, data[off], Magic)
	}
	im.HeaderOffset = off
	im.SegmentCount = int(data[off+1])
	im.FlashMode = data[off+2]
	im.FlashSizeCode = data[off+3] >> 4
	im.FlashFreqCode = data[off+3] & 0xF
	im.Entry = Hex32(binary.LittleEndian.Uint32(data[off+4:]))
	// esptool's verify() counts every segment, the v2 irom0 one included.
	if firstIdx+im.SegmentCount > MaxSegments {
		return fmt.Errorf("%s image: header at file offset 0x%x claims %d segments, at most %d are allowed: corrupt or not an image",
			c.name, off, firstIdx+im.SegmentCount, MaxSegments)
	}
	pos := off + headerLen
	if c.hasID {
		if len(data)-pos < extHeaderLen {
			return fmt.Errorf("%s image: extended header at file offset 0x%x needs 16 bytes but only 0x%x remain: truncated or not an image",
				c.name, pos, len(data)-pos)
		}
		if f := data[pos+15]; f > 1 {
			return fmt.Errorf("%s image: extended header byte 15 (SHA-256 appended flag) at file offset 0x%x is 0x%02x, expected 0 or 1: corrupt or not an image",
				c.name, pos+15, f)
		}
		ext := decodeExtHeader(data[pos : pos+extHeaderLen])
		im.Extended = &ext
		if ext.ChipID != c.imageID {
			other := "an unknown chip"
			if name, ok := ChipForImageID(ext.ChipID); ok {
				other = name
			}
			im.warnf("image chip ID is %d (%s), expected %d for %s: is this image for a different chip?",
				ext.ChipID, other, c.imageID, c.name)
		}
		pos += extHeaderLen
	}
	sum := byte(ChecksumSeed)
	for i := 0; i < im.SegmentCount; i++ {
		seg, err := im.readSegment(c, data, firstIdx+i, pos)
		if err != nil {
			return err
		}
		// esptool's warn_if_unusual_segment, ESP8266 only: RAM segments
		// live in 0x3FFE0000..0x40200000 and are at most 64 KiB.
		if !c.hasID && (seg.LoadAddr > 0x40200000 || seg.LoadAddr < 0x3FFE0000 || seg.Length > 65536) {
			note := "ESP8266 RAM segments lie in 0x3ffe0000-0x40200000 and are at most 64 KiB"
			if seg.FlashMapped {
				note = "a flash-mapped irom0 address; esptool writes irom0 to a separate file, not into a v1 image"
			}
			im.warnf("suspicious segment %d: load address 0x%08x, length 0x%x (%s)",
				seg.Index, uint32(seg.LoadAddr), seg.Length, note)
		}
		sum = Checksum(sum, seg.Data)
		im.Segments = append(im.Segments, seg)
		pos = seg.DataOffset + int(seg.Length)
	}
	// The checksum is the last byte of a 16-byte block counted from the
	// start of the file (§14.1; esptool's align_file_position(f, 16)).
	cpos := pos + 15 - pos%16
	if cpos >= len(data) {
		return fmt.Errorf("%s image: checksum byte expected at file offset 0x%x but the file ends at 0x%x: truncated",
			c.name, cpos, len(data))
	}
	im.ChecksumOffset = cpos
	im.Checksum = data[cpos]
	im.ComputedChecksum = sum
	im.ChecksumValid = sum == data[cpos]
	im.DataLength = cpos + 1
	im.Length = im.DataLength

	if im.Extended != nil && im.Extended.HashAppended {
		end := im.DataLength
		stored := data[end:min(len(data), end+digestLen)]
		computed := sha256.Sum256(data[:end])
		im.SHA256 = &Digest{
			Offset:   end,
			Stored:   HexBytes(bytes.Clone(stored)),
			Computed: HexBytes(computed[:]),
			Valid:    bytes.Equal(stored, computed[:]),
		}
		if len(stored) < digestLen {
			im.warnf("SHA-256 digest at file offset 0x%x is truncated: only %d of 32 bytes present", end, len(stored))
		}
		im.Length += len(stored)
	}
	return nil
}

// parseV2 parses an ESP8266 v2 image (esp-serial-protocol.md §14.3): first
// header, irom0 segment stored with load address 0, a normal v1 image, then
// a CRC32 of everything before it.
func (im *Image) parseV2(c *chipInfo, data []byte) error {
	if len(data) < headerLen {
		return fmt.Errorf("%s v2 image: first header needs 8 bytes but the file has only 0x%x: truncated", c.name, len(data))
	}
	v2 := &V2Info{
		FirstSegmentCount: int(data[1]),
		FirstFlashMode:    data[2],
		FirstSizeFreq:     data[3],
		FirstEntry:        Hex32(binary.LittleEndian.Uint32(data[4:])),
	}
	im.V2 = v2
	if v2.FirstSegmentCount != v2ExpectedCount {
		im.warnf("v2 first header has segment count %d, usually %d", v2.FirstSegmentCount, v2ExpectedCount)
	}
	irom, err := im.readSegment(c, data, 0, headerLen)
	if err != nil {
		return err
	}
	// The flash address the irom0 code ends up at depends on where the
	// file is written, so the load address in the file is just 0.
	irom.InChecksum = false
	irom.FlashMapped = true
	irom.MemoryTypes = nil
	im.Segments = append(im.Segments, irom)

	if err := im.parseLoadable(c, data, irom.DataOffset+int(irom.Length), 1); err != nil {
		return err
	}
	if v2.FirstFlashMode != im.FlashMode {
		im.warnf("flash mode in first header (0x%02x) disagrees with second (0x%02x); the second is used",
			v2.FirstFlashMode, im.FlashMode)
	}
	if second := im.FlashSizeCode<<4 | im.FlashFreqCode; v2.FirstSizeFreq != second {
		im.warnf("flash size/freq in first header (0x%02x) disagrees with second (0x%02x); the second is used",
			v2.FirstSizeFreq, second)
	}
	if v2.FirstEntry != im.Entry {
		im.warnf("entry point in first header (0x%08x) disagrees with second (0x%08x); the second is used",
			uint32(v2.FirstEntry), uint32(im.Entry))
	}

	v2.CRCOffset = im.DataLength
	v2.ComputedCRC = Hex32(ESP8266CRC32(data[:im.DataLength]))
	if len(data)-im.DataLength >= crcLen {
		v2.CRCPresent = true
		v2.StoredCRC = Hex32(binary.LittleEndian.Uint32(data[im.DataLength:]))
		v2.CRCValid = v2.StoredCRC == v2.ComputedCRC
		im.Length += crcLen
	} else {
		im.warnf("no CRC32 trailer: the file ends at 0x%x, 4 bytes after the checksum at 0x%x were expected",
			len(data), im.ChecksumOffset)
	}
	return nil
}

func (im *Image) fillNames(c *chipInfo) {
	if n, ok := nameOf(flashModes, im.FlashMode); ok {
		im.FlashModeName = n
	}
	if n, ok := nameOf(c.sizes, im.FlashSizeCode); ok {
		im.FlashSizeName = n
	}
	if n, ok := nameOf(c.freqs, im.FlashFreqCode); ok {
		im.FlashFreqName = n
	}
}

// CheckChipID is the first half of CheckTarget: an ESP32-family image must
// carry the chip's ID in its extended header (esp-serial-protocol.md
// §14.4); the revision range is not looked at.
func (im *Image) CheckChipID(chip string) error {
	c, err := lookupChip(chip)
	if err != nil {
		return err
	}
	e := im.Extended
	if !c.hasID || e == nil || e.ChipID == c.imageID {
		return nil
	}
	other := fmt.Sprintf("chip ID %d", e.ChipID)
	if name, ok := ChipForImageID(e.ChipID); ok {
		other = fmt.Sprintf("%s (chip ID %d)", name, e.ChipID)
	}
	return fmt.Errorf("image is for %s, not %s: use --force to flash anyway", other, c.name)
}

// CheckTarget applies esptool write_flash's guard (cmds.py, skipped there
// with --force): an ESP32-family image must carry the connected chip's ID
// and admit its revision major.minor. ESP8266 images carry neither, so they
// always pass. Parse the image for the connected chip first; esptool skips
// this check for files that do not parse.
func (im *Image) CheckTarget(chip string, major, minor int) error {
	if err := im.CheckChipID(chip); err != nil {
		return err
	}
	c, _ := lookupChip(chip)
	e := im.Extended
	if !c.hasID || e == nil {
		return nil
	}
	// Which revision fields count follows esptool: MaxRevFull 0 means an
	// image from before the full-revision fields; 0xFFFF with only the
	// legacy MinRev set also means "use the legacy field".
	useFull := true
	switch {
	case e.MaxRevFull == 0:
		useFull = false
	case e.MaxRevFull == 0xFFFF && e.MinRevFull == 0 && e.MinRev != 0:
		useFull = false
	}
	if useFull {
		rev := major*100 + minor
		if rev < int(e.MinRevFull) || rev > int(e.MaxRevFull) {
			maxS := "max rev not set"
			if e.MaxRevFull != 0xFFFF {
				maxS = fmt.Sprintf("v%d.%d", e.MaxRevFull/100, e.MaxRevFull%100)
			}
			return fmt.Errorf("image requires chip revision in range [v%d.%d - %s] (this chip is revision v%d.%d): use --force to flash anyway",
				e.MinRevFull/100, e.MinRevFull%100, maxS, major, minor)
		}
		return nil
	}
	// The legacy byte holds the minor revision on the C3 and the major
	// revision everywhere else (esptool write_flash).
	rev := major
	if c.name == ChipESP32C3 {
		rev = minor
	}
	if rev < int(e.MinRev) {
		return fmt.Errorf("image requires chip revision %d or higher (this chip is revision %d): use --force to flash anyway", e.MinRev, rev)
	}
	return nil
}
