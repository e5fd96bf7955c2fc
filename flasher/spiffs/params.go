package spiffs

import (
	"errors"
	"fmt"
)

// Params are the SPIFFS compile-time and geometry settings an image is
// built with. Two images of the same files are only interchangeable when
// every field matches, so the device's SPIFFS configuration decides them
// (docs/filesystem-images.md §3.1 and §4).
type Params struct {
	Size      int // image size in bytes (FS size from the layout); a multiple of BlockSize
	PageSize  int // logical page size: 256 everywhere in the Arduino cores
	BlockSize int // logical block size: 4096 or 8192 on ESP8266 (from the layout), 4096 on ESP32

	ObjNameLen int // SPIFFS_OBJ_NAME_LEN: 32; names may use ObjNameLen-1 bytes
	MetaLen    int // SPIFFS_OBJ_META_LEN: 0 on ESP8266 Arduino, 4 on ESP32

	UseMagic           bool // SPIFFS_USE_MAGIC: a magic number in every block's lookup page
	UseMagicLength     bool // SPIFFS_USE_MAGIC_LENGTH: the magic also encodes the block count
	AlignedObjIxTables bool // SPIFFS_ALIGNED_OBJECT_INDEX_TABLES: index header padded to 2 bytes

	// GCMaxRuns is SPIFFS_GC_MAX_RUNS, the garbage collection rounds one
	// write may run. It changes the bytes only once an image is full
	// enough for mkspiffs' garbage collection to start: 10 is the value of
	// mkspiffs 0.2.1 and later (the build behind shared/testdata/fs), 5 the
	// value of mkspiffs 0.2.0, the revision the ESP8266 core ships
	// (docs §2.4, §3.8; mkspiffs spiffs_config.h at both tags). 0 means 10.
	GCMaxRuns int
}

// ESP8266Params returns the configuration of mkspiffs' "arduino-esp8266"
// build, which equals the ESP8266 Arduino core's runtime configuration:
// page 256, name 32, no metadata, magic without length, aligned index
// tables (docs §3.1; mkspiffs build_all_configs.sh). size and blockSize
// come from the flash layout (docs §1.1: 4096 below 512 KiB, else 8192).
func ESP8266Params(size, blockSize int) Params {
	return Params{
		Size: size, PageSize: 256, BlockSize: blockSize,
		ObjNameLen: 32, MetaLen: 0,
		UseMagic: true, UseMagicLength: false, AlignedObjIxTables: true,
		GCMaxRuns: 10,
	}
}

// ESP32Params returns the configuration of mkspiffs' "arduino-esp32" and
// "esp-idf" builds (only -DSPIFFS_OBJ_META_LEN=4, everything else the
// SPIFFS default): page 256, block 4096, name 32, 4 metadata bytes, magic
// with length, unaligned index tables (docs §4; build_all_configs.sh).
func ESP32Params(size int) Params {
	return Params{
		Size: size, PageSize: 256, BlockSize: 4096,
		ObjNameLen: 32, MetaLen: 4,
		UseMagic: true, UseMagicLength: true, AlignedObjIxTables: false,
		GCMaxRuns: 10,
	}
}

// Page header flag bits (spiffs_nucleus.h SPIFFS_PH_FLAG_*). Flash bits
// are cleared to record a state, so a bit reads 0 when its condition holds.
const (
	flagUsed   = 1 << 0 // page written
	flagFinal  = 1 << 1 // write finished
	flagIndex  = 1 << 2 // 0: object index page, 1: data page
	flagIxDele = 1 << 6 // index header being deleted
	flagDelet  = 1 << 7 // page deleted

	idFree    = 0xFFFF // lookup entry of a free page
	idDeleted = 0x0000 // lookup entry of a deleted page
	ixFlag    = 0x8000 // lookup entry / obj_id bit of index pages

	undefinedLen = 0xFFFFFFFF // size of an object nothing was written to

	// The flag bytes mkspiffs images hold (docs §3.4).
	flagsData    = 0xFF &^ (flagUsed | flagFinal)             // 0xFC
	flagsIndex   = 0xFF &^ (flagUsed | flagFinal | flagIndex) // 0xF8
	flagsDeleted = 0xFF &^ (flagDelet | flagUsed)             // 0x7E, written over the old flags

	typeFile = 1 // spiffs_obj_type SPIFFS_TYPE_FILE

	pageHeaderLen = 5 // spiffs_page_header: obj_id u16, span_ix u16, flags u8 (packed)
	ixHeaderLen   = 8 // spiffs_page_object_ix: page header + 3 alignment bytes
)

// geom is everything derived from Params (docs §3.2; the macros of
// spiffs_nucleus.h).
type geom struct {
	P, B, S   int // page, block, image size
	ppb       int // pages per block
	lu        int // lookup pages per block
	E         int // lookup entries = data pages per block
	N         int // blocks
	D         int // data bytes per data page
	pages     int // pages in the image
	nameOff   int // name field offset in an index header
	nameLen   int
	metaOff   int
	metaLen   int
	padOff    int // first struct tail padding byte (== hdrLen when none)
	hdrLen    int // sizeof(spiffs_page_object_ix_header): where the header's table starts
	hdrIx     int // table entries in an index header page
	ixLen     int // table entries in a plain index page
	magicOff  int // magic offset inside a block
	eraseOff  int // erase count offset inside a block
	useMagic  bool
	magicLen  bool
	gcMaxRuns int
}

// Limits enforced by validate. Page and block indices are u16 in SPIFFS
// (spiffs_page_ix, spiffs_block_ix) and 0xFFFF means "free".
const (
	minPageSize = 64
	maxPageSize = 8192
	maxNameLen  = 255
	maxMetaLen  = 64
	maxPages    = 0xFFFF
)

var errParams = errors.New("spiffs: invalid parameters")

func (p Params) geom() (geom, error) {
	bad := func(format string, a ...any) (geom, error) {
		return geom{}, fmt.Errorf("%w: "+format, append([]any{errParams}, a...)...)
	}
	P, B, S := p.PageSize, p.BlockSize, p.Size
	switch {
	case P < minPageSize || P > maxPageSize || P&(P-1) != 0:
		return bad("page size %d: must be a power of two from %d to %d (256 on ESP8266/ESP32)", P, minPageSize, maxPageSize)
	case B < 2*P || B%P != 0:
		return bad("block size %d: must be a multiple of the page size %d, at least two pages (4096 or 8192 on ESP8266, 4096 on ESP32)", B, P)
	case S <= 0 || S%B != 0:
		return bad("image size %d: must be a positive multiple of the block size %d (take it from the flash layout)", S, B)
	case S/B < 3:
		return bad("image size %d holds %d blocks of %d bytes: SPIFFS needs at least 3 (2 are reserved for garbage collection)", S, S/B, B)
	case S/P >= maxPages:
		return bad("image size %d: %d pages of %d bytes, SPIFFS page numbers stop at %d: use a larger page size", S, S/P, P, maxPages-1)
	case p.ObjNameLen < 2 || p.ObjNameLen > maxNameLen:
		return bad("object name length %d: must be from 2 to %d (32 in the Arduino cores)", p.ObjNameLen, maxNameLen)
	case p.MetaLen < 0 || p.MetaLen > maxMetaLen:
		return bad("metadata length %d: must be from 0 to %d (0 on ESP8266, 4 on ESP32)", p.MetaLen, maxMetaLen)
	case p.GCMaxRuns < 0:
		return bad("GC max runs %d: must not be negative (0 means 10)", p.GCMaxRuns)
	}
	g := geom{P: P, B: B, S: S, useMagic: p.UseMagic, magicLen: p.UseMagic && p.UseMagicLength}
	g.ppb = B / P
	g.lu = max(1, g.ppb*2/P) // SPIFFS_OBJ_LOOKUP_PAGES
	g.E = g.ppb - g.lu
	g.N = S / B
	g.D = P - pageHeaderLen
	g.pages = S / P
	// spiffs_page_object_ix_header: page header, 3 alignment bytes, u32
	// size, u8 type, name, meta; packed, and with
	// SPIFFS_ALIGNED_OBJECT_INDEX_TABLES aligned (so padded) to 2 bytes.
	g.nameOff = pageHeaderLen + 3 + 4 + 1
	g.nameLen = p.ObjNameLen
	g.metaOff = g.nameOff + g.nameLen
	g.metaLen = p.MetaLen
	g.padOff = g.metaOff + g.metaLen
	g.hdrLen = g.padOff
	if p.AlignedObjIxTables {
		g.hdrLen += g.hdrLen & 1
	}
	g.hdrIx = (P - g.hdrLen) / 2
	g.ixLen = (P - ixHeaderLen) / 2
	g.eraseOff = g.lu*P - 2
	g.magicOff = g.lu*P - 4
	g.gcMaxRuns = p.GCMaxRuns
	if g.gcMaxRuns == 0 {
		g.gcMaxRuns = 10
	}
	if g.hdrIx < 1 {
		return bad("object name length %d and metadata length %d leave no index entries in a %d-byte page", p.ObjNameLen, p.MetaLen, P)
	}
	if g.E < 1 {
		return bad("block size %d with page size %d leaves no data pages", B, P)
	}
	// SPIFFS_CHECK_MAGIC_POSSIBLE: the magic and erase count must fit
	// after the entries in the last lookup page.
	if p.UseMagic && (g.E%(P/2))*2 > P-4 {
		return bad("block size %d with page size %d leaves no room for the block magic", B, P)
	}
	return g, nil
}

// magic is SPIFFS_MAGIC for block b (spiffs_nucleus.h).
func (g *geom) magic(b int) uint16 {
	m := uint32(0x20140529) ^ uint32(g.P)
	if g.magicLen {
		m ^= uint32(g.N - b)
	}
	return uint16(m)
}

func (g *geom) pix(b, e int) int    { return b*g.ppb + g.lu + e }
func (g *geom) blockOf(pix int) int { return pix / g.ppb }
func (g *geom) entryOf(pix int) int { return pix%g.ppb - g.lu }
func (g *geom) isLookup(pix int) bool {
	return pix%g.ppb < g.lu
}

// ixSpan is SPIFFS_OBJ_IX_ENTRY_SPAN_IX: the index page span holding
// data span s.
func (g *geom) ixSpan(s int) int {
	if s < g.hdrIx {
		return 0
	}
	return 1 + (s-g.hdrIx)/g.ixLen
}

// ixEntry is SPIFFS_OBJ_IX_ENTRY: the slot of data span s in its index page.
func (g *geom) ixEntry(s int) int {
	if s < g.hdrIx {
		return s
	}
	return (s - g.hdrIx) % g.ixLen
}

// tableOff is the byte offset in an index page (span ix) of the entry
// for data span s.
func (g *geom) tableOff(ix, s int) int {
	if ix == 0 {
		return g.hdrLen + 2*s
	}
	return ixHeaderLen + 2*g.ixEntry(s)
}

// firstSpan is SPIFFS_DATA_SPAN_IX_FOR_OBJ_IX_SPAN_IX.
func (g *geom) firstSpan(ix int) int {
	if ix == 0 {
		return 0
	}
	return g.hdrIx + (ix-1)*g.ixLen
}

// spansIn is the number of table entries of index page ix.
func (g *geom) spansIn(ix int) int {
	if ix == 0 {
		return g.hdrIx
	}
	return g.ixLen
}

func le16(b []byte) uint16     { return uint16(b[0]) | uint16(b[1])<<8 }
func put16(b []byte, v uint16) { b[0], b[1] = byte(v), byte(v>>8) }
func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
func put32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
