package littlefs

import "fmt"

// Params describe the littlefs configuration an image is built for or read
// with. The geometry, the prog size (commit padding), the cache size (inline
// limit) and the name/file/attribute limits (superblock) shape the image;
// lookahead and block cycles do not, but describe the device's lfs_config
// the image is meant for.
type Params struct {
	Size      int // image size in bytes (the FS size from the flash layout)
	BlockSize int // erase block: 8192 or 4096 on the ESP8266 (from the layout)

	ReadSize, ProgSize int // 64 in mklittlefs 3.1.0 and the ESP8266 core; commits are padded to ProgSize
	CacheSize          int // 64; with BlockSize it sets the inline-file limit
	LookaheadSize      int // 64 (bytes of allocator bitmap); not stored in the image
	BlockCycles        int // 16; metadata revision counts are chosen so no pair is due for relocation

	NameMax int // 32 (LFS_NAME_MAX of mklittlefs and the core); stored in the superblock
	FileMax int // 2147483647 (littlefs default); stored in the superblock
	AttrMax int // 1022 (littlefs default); stored in the superblock

	// NameUsable is the longest path component the device can open, which
	// can be less than NameMax: the ESP8266 core's LittleFS wrapper refuses
	// components of 32 bytes or more (filesystem-images.md §5.3), so files
	// with such names would be listed but never opened. 0 = NameMax.
	NameUsable int
}

// ESP8266Params returns the configuration mklittlefs 3.1.0 uses and the
// ESP8266 Arduino core 3.1.x mounts with, for an FS of size bytes with the
// given block size (both from the flash layout).
func ESP8266Params(size, blockSize int) Params {
	return Params{
		Size:          size,
		BlockSize:     blockSize,
		ReadSize:      64,
		ProgSize:      64,
		CacheSize:     64,
		LookaheadSize: 64,
		BlockCycles:   16,
		NameMax:       32,
		FileMax:       0x7fffffff,
		AttrMax:       1022,
		NameUsable:    31,
	}
}

// BlockCount is Size / BlockSize.
func (p Params) blockCount() int { return p.Size / p.BlockSize }

// inlineMax is the largest file littlefs 2.5 keeps inline in its
// directory's metadata: min(0x3fe, cache_size, block_size/8)
// (lfs_file_flushedwrite, with metadata_max unset).
func (p Params) inlineMax() int {
	return min(maxTagSize, p.CacheSize, p.BlockSize/8)
}

// validate applies lfs_init's configuration checks plus what this package
// needs.
func (p Params) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("invalid LittleFS parameters: "+format, a...)
	}
	switch {
	case p.BlockSize < 128:
		return bad("block size %d is too small (at least 128; the ESP8266 uses 4096 or 8192)", p.BlockSize)
	case p.BlockSize > 1<<20:
		return bad("block size %d is too large (at most 1 MiB)", p.BlockSize)
	case p.Size <= 0 || p.Size%p.BlockSize != 0:
		return bad("size %d is not a positive multiple of the block size %d", p.Size, p.BlockSize)
	case p.Size/p.BlockSize < 2:
		return bad("size %d holds fewer than 2 blocks of %d bytes (the superblock needs a pair)", p.Size, p.BlockSize)
	case int64(p.Size/p.BlockSize) > 1<<31:
		return bad("too many blocks (%d)", p.Size/p.BlockSize)
	case p.ReadSize <= 0 || p.ProgSize <= 0 || p.CacheSize <= 0:
		return bad("read size %d, prog size %d and cache size %d must be positive", p.ReadSize, p.ProgSize, p.CacheSize)
	case p.ProgSize > 512:
		return bad("prog size %d is larger than 512", p.ProgSize)
	case p.CacheSize%p.ReadSize != 0 || p.CacheSize%p.ProgSize != 0:
		return bad("cache size %d must be a multiple of the read size %d and the prog size %d", p.CacheSize, p.ReadSize, p.ProgSize)
	case p.BlockSize%p.CacheSize != 0:
		return bad("block size %d must be a multiple of the cache size %d", p.BlockSize, p.CacheSize)
	case p.LookaheadSize <= 0 || p.LookaheadSize%8 != 0:
		return bad("lookahead size %d must be a positive multiple of 8", p.LookaheadSize)
	case p.BlockCycles == 0:
		return bad("block cycles must not be 0 (use -1 to disable wear leveling)")
	case p.NameMax < 1 || p.NameMax > 255:
		return bad("name max %d is outside 1..255", p.NameMax)
	case p.FileMax < 1 || int64(p.FileMax) > 0x7fffffff:
		return bad("file max %d is outside 1..2147483647", p.FileMax)
	case p.AttrMax < 8 || p.AttrMax > 1022:
		return bad("attr max %d is outside 8..1022 (timestamps need 8 bytes)", p.AttrMax)
	}
	return nil
}

// usableName is the longest component Build accepts.
func (p Params) usableName() int {
	if p.NameUsable > 0 && p.NameUsable < p.NameMax {
		return p.NameUsable
	}
	return p.NameMax
}
