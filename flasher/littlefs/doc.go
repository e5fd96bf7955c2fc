// Package littlefs owns the LittleFS image format (v2.0 on disk, as
// littlefs 2.5 in the ESP8266 Arduino core mounts it): building images and
// reading them back.
//
// The format facts come from littlefs' SPEC.md and lfs.c at v2.5.1 (the
// version the ESP8266 Arduino core 3.1.x and mklittlefs 3.1.0 use); the
// parameters from mklittlefs 3.1.0, which uses the same lfs_config as the
// core's LittleFS wrapper. Images built here are not byte-identical to
// mklittlefs output (that would need littlefs' own write sequence), but
// littlefs 2.5 mounts, lists, reads and keeps writing them.
//
// Layout of a built image:
//   - blocks 0 and 1: the superblock metadata pair, which is also the root
//     directory's first pair (SPEC.md "0x0ff LFS_TYPE_SUPERBLOCK");
//   - every directory is a chain of metadata pairs (hard tails), and all
//     pairs form one list through soft tails, root first, then the other
//     directories depth-first: littlefs' allocator finds used blocks by
//     walking that list (lfs_fs_rawtraverse), so it must reach every pair
//     and every file;
//   - each metadata pair holds one compacted commit in its first block
//     (revision 1); the second block stays erased, ready for the next
//     compaction on the device;
//   - files up to the inline limit live in their directory's metadata,
//     larger ones in CTZ skip-lists of data blocks;
//   - unused bytes are 0xFF (erased NOR flash), so littlefs can append
//     commits to the metadata blocks in place.
//
// Names: littlefs stores names of up to NameMax (32) bytes, and Build
// accepts them, as mklittlefs does. The ESP8266 core's LittleFS.open()
// however refuses any path component of 32 bytes or more (pathValid in
// its LittleFS.h), so files whose name (or a folder name above them) is
// exactly 32 bytes are listed on the device but cannot be opened there;
// keep names to 31 bytes for the ESP8266.
package littlefs
