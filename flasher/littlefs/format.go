package littlefs

import (
	"encoding/binary"
	"hash/crc32"
	"math/bits"
)

// On-disk constants of littlefs disk version 2.0 (SPEC.md, littlefs v2.5.1).
const (
	diskVersion = 0x00020000 // SPEC.md "Superblock fields": major 2, minor 0
	magic       = "littlefs"
	blockNull   = 0xffffffff // SPEC.md "Some quick notes": null block address

	superblockSize = 24 // inline-struct of the superblock: 6 little-endian u32
	gstateSize     = 12 // move state: tag + metadata pair
	maxTagSize     = 0x3fe
)

// Tag types (SPEC.md "Metadata types"; the 11-bit type3 field).
const (
	typeName       = 0x000 // type1: name tags, chunk = file type
	typeReg        = 0x001
	typeDir        = 0x002
	typeSuperblock = 0x0ff
	typeStruct     = 0x200 // type1: struct tags
	typeDirStruct  = 0x200
	typeInline     = 0x201
	typeCTZ        = 0x202
	typeUserAttr   = 0x300 // type1: user attributes, chunk = attribute type
	typeSplice     = 0x400 // type1: create/delete
	typeCreate     = 0x401
	typeDelete     = 0x4ff
	typeCRC        = 0x500 // type1: commit CRC, chunk bit 0 = valid state
	typeTail       = 0x600 // type1: tails
	typeSoftTail   = 0x600
	typeHardTail   = 0x601
	typeGlobals    = 0x700 // type1: global state deltas
	typeMoveState  = 0x7ff
)

// User attributes mklittlefs sets (and the ESP8266 core's LittleFS reads):
// 't' = last write time, 'c' = creation time.
const (
	attrTime    = 't'
	attrCreated = 'c'
)

// tag is a decoded 32-bit metadata tag (SPEC.md "Metadata tags"):
// valid bit, 11-bit type, 10-bit id, 10-bit length. On disk tags are stored
// big-endian and XORed with the previous tag.
type tag uint32

func mkTag(typ, id, size uint32) tag {
	return tag(typ<<20 | id<<10 | size)
}

func (t tag) valid() bool    { return t&0x80000000 == 0 }
func (t tag) type1() uint32  { return uint32(t&0x70000000) >> 20 }
func (t tag) type3() uint32  { return uint32(t&0x7ff00000) >> 20 }
func (t tag) chunk() uint8   { return uint8(t >> 20) }
func (t tag) id() uint32     { return uint32(t>>10) & 0x3ff }
func (t tag) size() uint32   { return uint32(t) & 0x3ff }
func (t tag) isDelete() bool { return t.size() == 0x3ff }

// dataSize is the number of data bytes following the tag: a deleted tag
// (length 0x3ff) has none (lfs_tag_dsize).
func (t tag) dataSize() int {
	if t.isDelete() {
		return 0
	}
	return int(t.size())
}

func (t tag) diskSize() int { return 4 + t.dataSize() }

// crc is littlefs' lfs_crc: CRC-32 with polynomial 0x04c11db7 (reflected),
// caller-supplied initial value and no final XOR (SPEC.md "CRC").
func crc(c uint32, p []byte) uint32 {
	return ^crc32.Update(^c, crc32.IEEETable, p)
}

func le32(b []byte) uint32       { return binary.LittleEndian.Uint32(b) }
func putLE32(b []byte, v uint32) { binary.LittleEndian.PutUint32(b, v) }
func be32(b []byte) uint32       { return binary.BigEndian.Uint32(b) }

func alignUp(v, a int) int { return (v + a - 1) / a * a }

// scmp compares revision counts with sequence arithmetic, as lfs_scmp does
// (SPEC.md "Revision count": sequence comparison avoids overflow issues).
func scmp(a, b uint32) int32 { return int32(a - b) }

// CTZ skip-lists (SPEC.md "0x202 LFS_TYPE_CTZSTRUCT", DESIGN.md "CTZ
// skip-lists"): block n of a file (n counted from the file's first block)
// starts with ctz(n)+1 pointers, pointer k addressing block n-2^k; block 0
// has none. Data fills the rest of each block.

// ctzPointers is the number of skip pointers at the start of block n.
func ctzPointers(n int) int {
	if n == 0 {
		return 0
	}
	return bits.TrailingZeros(uint(n)) + 1
}

// ctzIndex maps a file position to (block index, offset in that block),
// using the closed form from DESIGN.md (the same one lfs_ctz_index uses):
// with b = block_size - 2*4, n = (pos - 4*(popcount(pos/b - 1) + 2)) / b
// and off = pos - b*n - 4*popcount(n).
func ctzIndex(pos, blockSize int) (n, off int) {
	b := blockSize - 8
	i := pos / b
	if i == 0 {
		return 0, pos
	}
	i = (pos - 4*(bits.OnesCount(uint(i-1))+2)) / b
	return i, pos - b*i - 4*bits.OnesCount(uint(i))
}

// ctzBlockCount is how many blocks a CTZ file of size bytes occupies.
func ctzBlockCount(size, blockSize int) int {
	if size == 0 {
		return 0
	}
	n, _ := ctzIndex(size-1, blockSize)
	return n + 1
}
