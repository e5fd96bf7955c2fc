package littlefs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Entry is a file or directory in an image.
type Entry struct {
	Path    string    // "/www/index.html"
	IsDir   bool      // directory
	Size    int       // file size in bytes; 0 for directories
	ModTime time.Time // the 't' attribute (mklittlefs, ESP8266 core); zero when absent
}

// Image is a LittleFS image read back: its entries, depth-first with each
// directory's entries in on-disk (byte-wise name) order, the way
// `mklittlefs -l` lists them.
type Image struct {
	Entries    []Entry
	Version    string // disk version from the superblock, "2.0"
	BlockSize  int
	BlockCount int

	r        *reader
	nameMax  int
	fileMax  int64
	files    map[string]fileRef
	dirs     map[string]bool
	problems []Problem
	thread   [][2]uint32          // metadata list order, from {0, 1}
	dirPairs map[[2]uint32]string // pairs reached from the directory tree
	mdirs    map[[2]uint32]*mdir  // fetched pairs by pairKey
	gs       gstate
}

type fileRef struct {
	inline []byte
	ctz    bool
	head   uint32
	size   uint32
}

// Problem is something wrong in an image, found by Read or Check.
type Problem struct {
	Path  string // file or directory concerned; "" when none
	Block int    // block concerned; -1 when none
	Msg   string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	if p.Block >= 0 {
		fmt.Fprintf(&b, "block %d: ", p.Block)
	}
	b.WriteString(p.Msg)
	return b.String()
}

type reader struct {
	img        []byte
	bs         int
	blockCount int
}

func (r *reader) block(b uint32) []byte {
	return r.img[int(b)*r.bs : int(b+1)*r.bs]
}

// superblock is the inline struct of the superblock entry (SPEC.md "0x0ff
// LFS_TYPE_SUPERBLOCK").
type superblock struct {
	version, blockSize, blockCount, nameMax, fileMax, attrMax uint32
}

func parseSuperblock(d []byte) (superblock, bool) {
	if len(d) < superblockSize {
		return superblock{}, false
	}
	return superblock{le32(d[0:]), le32(d[4:]), le32(d[8:]), le32(d[12:]), le32(d[16:]), le32(d[20:])}, true
}

// superblockOf returns the superblock entry of a fetched pair, if any: id
// 0, name tag of type 0x0ff with "littlefs", inline struct.
func superblockOf(m *mdir) (superblock, bool) {
	if len(m.entries) == 0 {
		return superblock{}, false
	}
	e := m.entries[0]
	if e.special.type3() != typeSuperblock || string(e.sdata) != magic {
		return superblock{}, false
	}
	if e.strTag.type3() != typeInline {
		return superblock{}, false
	}
	return parseSuperblock(e.strData)
}

// Detect reads the geometry from the superblock, which littlefs writes as
// the first entry of block 0 (and of block 1) so it can be found "using
// offsets alone" (SPEC.md "0x0ff LFS_TYPE_SUPERBLOCK"). Read and prog sizes
// are not stored; they default to the ESP8266's 64, as do cache, lookahead
// and block cycles (ESP8266Params). Name, file and attribute limits come
// from the superblock.
func Detect(img []byte) (Params, error) {
	var cands []superblock
	if sb, ok := superblockAt(img, 0); ok {
		cands = append(cands, sb)
	}
	// Block 0 may be mid-erase; block 1 then still holds the superblock.
	for bs := 128; bs <= len(img)/2 && bs <= 1<<20; bs *= 2 {
		if sb, ok := superblockAt(img, bs); ok && int(sb.blockSize) == bs {
			cands = append(cands, sb)
		}
	}
	if len(cands) == 0 {
		return Params{}, errors.New("no LittleFS superblock (\"littlefs\" magic) at the start of block 0 or 1: not a LittleFS image")
	}
	var firstErr error
	for _, sb := range cands {
		bs, bc := int64(sb.blockSize), int64(sb.blockCount)
		if bs < 128 || bs > 1<<20 || bc < 2 || bs*bc > 1<<40 {
			if firstErr == nil {
				firstErr = fmt.Errorf("LittleFS superblock with an implausible geometry: %d blocks of %d bytes", bc, bs)
			}
			continue
		}
		if bs*bc > int64(len(img)) {
			if firstErr == nil {
				firstErr = fmt.Errorf("image is truncated: the superblock says %d blocks of %d bytes (%d bytes), the image has %d bytes", bc, bs, bs*bc, len(img))
			}
			continue
		}
		p := ESP8266Params(int(bs*bc), int(bs))
		if sb.nameMax != 0 {
			p.NameMax = int(min(sb.nameMax, 1<<20))
		}
		if sb.fileMax != 0 {
			p.FileMax = int(min(sb.fileMax, 0x7fffffff))
			if sb.fileMax > 0x7fffffff {
				p.FileMax = -1 // rejected by validate
			}
		}
		if sb.attrMax != 0 {
			p.AttrMax = int(min(sb.attrMax, 1<<20))
		}
		if err := p.validate(); err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("LittleFS superblock with unsupported settings: %w", err)
			}
			continue
		}
		// Confirm with a full fetch of the superblock pair, which picks
		// the newest valid block.
		r := &reader{img: img[:p.Size], bs: p.BlockSize, blockCount: p.blockCount()}
		m, _, err := r.fetch([2]uint32{0, 1})
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("LittleFS superblock found but blocks 0/1 do not read back: %w", err)
			}
			continue
		}
		if got, ok := superblockOf(m); !ok || got.blockSize != sb.blockSize || got.blockCount != sb.blockCount {
			if firstErr == nil {
				firstErr = errors.New("LittleFS superblock found but the newest commit of blocks 0/1 disagrees with it")
			}
			continue
		}
		return p, nil
	}
	return Params{}, firstErr
}

// superblockAt decodes the first commit's first two tags at off: the
// superblock name tag and its inline struct.
func superblockAt(img []byte, off int) (superblock, bool) {
	if off < 0 || off+20+superblockSize > len(img) {
		return superblock{}, false
	}
	t1 := tag(be32(img[off+4:])) ^ 0xffffffff
	if t1 != mkTag(typeSuperblock, 0, uint32(len(magic))) || string(img[off+8:off+16]) != magic {
		return superblock{}, false
	}
	t2 := tag(be32(img[off+16:])) ^ t1
	if !t2.valid() || t2.type3() != typeInline || t2.id() != 0 || t2.size() < superblockSize || t2.isDelete() {
		return superblock{}, false
	}
	return parseSuperblock(img[off+20:])
}

// Read parses an image built for p: it walks the metadata list from the
// superblock pair like lfs_mount (following tails, with loop detection),
// then the directory tree, reading inline files and CTZ skip-lists. It
// fails where littlefs 2.5's mount would (no superblock, other geometry,
// newer disk version, larger name/file/attr limits than p); other damage
// is recorded for Check and skipped. img may be longer than p.Size (a
// flash dump); the rest is ignored.
func Read(img []byte, p Params) (*Image, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	if len(img) < p.Size {
		return nil, fmt.Errorf("image is %d bytes, shorter than the %d-byte filesystem", len(img), p.Size)
	}
	// A private copy: the Image stays valid whatever the caller does
	// with img, and its methods only read, so they may run concurrently.
	r := &reader{img: bytes.Clone(img[:p.Size]), bs: p.BlockSize, blockCount: p.blockCount()}
	im := &Image{
		BlockSize:  p.BlockSize,
		BlockCount: p.blockCount(),
		r:          r,
		nameMax:    p.NameMax,
		fileMax:    int64(p.FileMax),
		files:      map[string]fileRef{},
		dirs:       map[string]bool{},
		dirPairs:   map[[2]uint32]string{},
		mdirs:      map[[2]uint32]*mdir{},
	}
	root, err := im.readList(p)
	if err != nil {
		return nil, err
	}
	// A pending move hides its source entry (synthetic move in
	// lfs_dir_fetchmatch/lfs_dir_getslice).
	if im.gs.hasMove() {
		for _, pair := range im.thread {
			m := im.mdirs[pairKey(pair)]
			if m == nil || !samePair(m.pair, im.gs.pair) {
				continue
			}
			if id := int(im.gs.tag.id()); id < len(m.entries) {
				m.entries = append(m.entries[:id:id], m.entries[id+1:]...)
			}
			break
		}
	}
	im.walkDir(root, "/")
	return im, nil
}

func (im *Image) problem(path string, block int, format string, a ...any) {
	im.problems = append(im.problems, Problem{Path: path, Block: block, Msg: fmt.Sprintf(format, a...)})
}

// mdir fetches a pair once; what goes wrong is recorded as a problem.
func (im *Image) mdir(pair [2]uint32, who string) (*mdir, error) {
	if m, ok := im.mdirs[pairKey(pair)]; ok {
		if m == nil {
			return nil, fmt.Errorf("metadata pair {%d, %d} is unreadable", pair[0], pair[1])
		}
		return m, nil
	}
	m, issue, err := im.r.fetch(pair)
	im.mdirs[pairKey(pair)] = m
	if err != nil {
		im.problem(who, -1, "%v", err)
		return nil, err
	}
	if issue != nil {
		im.problem(who, int(m.pair[0]), "%s", issue.msg)
	}
	return m, nil
}

// readList walks the metadata list (every pair, linked by tails) as
// lfs_rawmount does, collecting the global state and finding the root: the
// last pair holding a superblock entry.
func (im *Image) readList(p Params) ([2]uint32, error) {
	root := [2]uint32{blockNull, blockNull}
	seen := map[[2]uint32]bool{}
	for pair := [2]uint32{0, 1}; pair[0] != blockNull && pair[1] != blockNull; {
		if seen[pairKey(pair)] || len(seen) >= im.BlockCount/2 {
			im.problem("", int(pair[0]), "the metadata list loops back to pair {%d, %d}; littlefs' mount fails on this (loop detected)", pair[0], pair[1])
			break
		}
		seen[pairKey(pair)] = true
		m, err := im.mdir(pair, "")
		if err != nil {
			if len(seen) == 1 {
				return root, fmt.Errorf("not a mountable LittleFS image: superblock %v", err)
			}
			break
		}
		im.thread = append(im.thread, pair)
		if sb, ok := superblockOf(m); ok {
			if err := checkSuperblock(sb, p); err != nil {
				return root, err
			}
			root = pair
			im.Version = fmt.Sprintf("%d.%d", sb.version>>16, sb.version&0xffff)
			if sb.nameMax != 0 {
				im.nameMax = int(sb.nameMax)
			}
			if sb.fileMax != 0 {
				im.fileMax = int64(sb.fileMax)
			}
		}
		if m.hasGD {
			im.gs.xor(m.gdelta)
		}
		pair = m.tail
	}
	if root[0] == blockNull {
		return root, errors.New("not a LittleFS image: no superblock entry in blocks 0/1 or on the metadata list")
	}
	return root, nil
}

// checkSuperblock applies lfs_rawmount's checks.
func checkSuperblock(sb superblock, p Params) error {
	major, minor := sb.version>>16, sb.version&0xffff
	switch {
	case major != diskVersion>>16 || minor > diskVersion&0xffff:
		return fmt.Errorf("LittleFS disk version %d.%d: littlefs 2.5 (ESP8266 core 3.1.x) mounts only version 2.0 (images from mklittlefs 4.x are 2.1 and do not mount)", major, minor)
	case sb.nameMax != 0 && int64(sb.nameMax) > int64(p.NameMax):
		return fmt.Errorf("superblock name max %d is larger than %d: littlefs built with LFS_NAME_MAX=%d refuses to mount this image", sb.nameMax, p.NameMax, p.NameMax)
	case sb.fileMax != 0 && int64(sb.fileMax) > int64(p.FileMax):
		return fmt.Errorf("superblock file max %d is larger than %d: littlefs refuses to mount this image", sb.fileMax, p.FileMax)
	case sb.attrMax != 0 && int64(sb.attrMax) > int64(p.AttrMax):
		return fmt.Errorf("superblock attr max %d is larger than %d: littlefs refuses to mount this image", sb.attrMax, p.AttrMax)
	case int64(sb.blockCount) != int64(p.blockCount()):
		return fmt.Errorf("superblock says %d blocks, the parameters %d (size %d / block %d): wrong layout for this image", sb.blockCount, p.blockCount(), p.Size, p.BlockSize)
	case int64(sb.blockSize) != int64(p.BlockSize):
		return fmt.Errorf("superblock block size %d, the parameters %d: wrong layout for this image", sb.blockSize, p.BlockSize)
	}
	return nil
}

// walkDir lists a directory: its chain of pairs (hard tails), each pair's
// ids in order (lfs_dir_read), recursing into subdirectories.
func (im *Image) walkDir(pair [2]uint32, dirPath string) {
	names := map[string]bool{}
	for first := true; ; first = false {
		if owner, ok := im.dirPairs[pairKey(pair)]; ok {
			if first {
				im.problem(dirPath, int(pair[0]), "metadata pair {%d, %d} is already used by %s", pair[0], pair[1], owner)
			} else {
				im.problem(dirPath, int(pair[0]), "directory continues into pair {%d, %d}, already used by %s", pair[0], pair[1], owner)
			}
			return
		}
		im.dirPairs[pairKey(pair)] = dirPath
		m, err := im.mdir(pair, dirPath)
		if err != nil {
			return
		}
		for _, e := range m.entries {
			if e == nil || e.nameTag == 0 {
				continue // the superblock, or an id without a name
			}
			im.entry(m, e, dirPath, names)
		}
		if !m.split || !m.hasTail() {
			return
		}
		pair = m.tail
	}
}

func (im *Image) entry(m *mdir, e *mentry, dirPath string, names map[string]bool) {
	name := string(e.name)
	full := path.Join(dirPath, name)
	switch {
	case name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00"):
		im.problem(dirPath, int(m.pair[0]), "entry with an unusable name %q skipped", name)
		return
	case names[name]:
		im.problem(full, int(m.pair[0]), "name appears twice in its directory; second one skipped")
		return
	}
	names[name] = true
	if len(name) > im.nameMax {
		im.problem(full, int(m.pair[0]), "name is %d bytes, more than the name max %d", len(name), im.nameMax)
	}
	var mt time.Time
	switch t := e.attrs[attrTime]; len(t) {
	case 4:
		mt = time.Unix(int64(le32(t)), 0).UTC()
	case 8:
		mt = time.Unix(int64(binary.LittleEndian.Uint64(t)), 0).UTC()
	}
	switch e.nameTag.type3() {
	case typeReg:
		var f fileRef
		switch e.strTag.type3() {
		case typeInline:
			f.inline = e.strData
			f.size = uint32(len(e.strData))
		case typeCTZ:
			if len(e.strData) < 8 {
				im.problem(full, int(m.pair[0]), "CTZ struct is %d bytes, want 8", len(e.strData))
				return
			}
			f.ctz, f.head, f.size = true, le32(e.strData), le32(e.strData[4:])
		default:
			im.problem(full, int(m.pair[0]), "file has no data struct (tag %#08x)", uint32(e.strTag))
			return
		}
		im.files[full] = f
		im.Entries = append(im.Entries, Entry{Path: full, Size: int(f.size), ModTime: mt})
	case typeDir:
		if e.strTag.type3() != typeDirStruct || len(e.strData) < 8 {
			im.problem(full, int(m.pair[0]), "directory has no dir struct (tag %#08x)", uint32(e.strTag))
			return
		}
		child := [2]uint32{le32(e.strData), le32(e.strData[4:])}
		if child[0] >= uint32(im.BlockCount) || child[1] >= uint32(im.BlockCount) {
			im.problem(full, -1, "directory points to pair {%d, %d}, outside the image", child[0], child[1])
			return
		}
		im.dirs[full] = true
		im.Entries = append(im.Entries, Entry{Path: full, IsDir: true, ModTime: mt})
		im.walkDir(child, full)
	default:
		im.problem(full, int(m.pair[0]), "entry of unknown type %#03x skipped", e.nameTag.type3())
	}
}

// ctzBlocks lists a CTZ file's blocks from first to last, following the
// skip-list back from its head and checking every skip pointer against
// the list (lfs_ctz_find uses them for seeks, lfs_ctz_traverse for
// allocation). The length comes from the size, so the walk is bounded;
// a block seen twice means a loop.
func (im *Image) ctzBlocks(head, size uint32) ([]uint32, error) {
	if size == 0 {
		return nil, nil
	}
	bs := im.BlockSize
	if int64(size) > int64(bs)*int64(im.BlockCount) {
		return nil, fmt.Errorf("size %d is larger than the whole image", size)
	}
	n := ctzBlockCount(int(size), bs)
	if n > im.BlockCount {
		return nil, fmt.Errorf("size %d needs %d blocks, the image has %d", size, n, im.BlockCount)
	}
	blocks := make([]uint32, n)
	blocks[n-1] = head
	seen := make(map[uint32]bool, n)
	for i := n - 1; i >= 0; i-- {
		b := blocks[i]
		if b >= uint32(im.BlockCount) {
			return nil, fmt.Errorf("CTZ block %d of %d points outside the image (block %d)", i, n, b)
		}
		if seen[b] {
			return nil, fmt.Errorf("CTZ list loops: block %d appears twice", b)
		}
		seen[b] = true
		if i > 0 {
			blocks[i-1] = le32(im.r.block(b))
		}
	}
	for i := 2; i < n; i++ {
		data := im.r.block(blocks[i])
		for k := 1; k < ctzPointers(i); k++ {
			if got, want := le32(data[4*k:]), blocks[i-1<<k]; got != want {
				return nil, fmt.Errorf("CTZ block %d (block %d): skip pointer %d is %d, want %d", i, blocks[i], k, got, want)
			}
		}
	}
	return blocks, nil
}

// ReadFile returns a file's contents. name is an image path such as
// "/www/index.html" (the leading slash is optional).
func (im *Image) ReadFile(name string) ([]byte, error) {
	name = path.Clean("/" + name)
	f, ok := im.files[name]
	if !ok {
		if im.dirs[name] || name == "/" {
			return nil, fmt.Errorf("%s is a directory", name)
		}
		return nil, fmt.Errorf("%s: no such file in the image", name)
	}
	if !f.ctz {
		return bytes.Clone(f.inline), nil
	}
	blocks, err := im.ctzBlocks(f.head, f.size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	out := make([]byte, 0, f.size)
	for i, b := range blocks {
		data := im.r.block(b)[4*ctzPointers(i):]
		out = append(out, data[:min(len(data), int(f.size)-len(out))]...)
	}
	return out, nil
}

// Extract writes the image's files and directories below dir (created if
// missing), with their modification times. Every write goes through an
// os.Root, so nothing lands outside dir, whatever the names or existing
// symbolic links; names unusable on this system are an error.
func (im *Image) Extract(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	var dirs []Entry
	for _, e := range im.Entries {
		slashed := strings.TrimPrefix(e.Path, "/")
		rel := filepath.FromSlash(slashed)
		if !filepath.IsLocal(rel) || (filepath.Separator != '/' && strings.ContainsRune(slashed, filepath.Separator)) {
			return fmt.Errorf("%s: name cannot be extracted safely on this system", e.Path)
		}
		if e.IsDir {
			if err := root.MkdirAll(rel, 0o755); err != nil {
				return err
			}
			dirs = append(dirs, e)
			continue
		}
		data, err := im.ReadFile(e.Path)
		if err != nil {
			return err
		}
		if err := root.WriteFile(rel, data, 0o644); err != nil {
			return err
		}
		if !e.ModTime.IsZero() {
			if err := root.Chtimes(rel, e.ModTime, e.ModTime); err != nil {
				return err
			}
		}
	}
	// Directory times last: creating files inside changes them.
	for i := len(dirs) - 1; i >= 0; i-- {
		e := dirs[i]
		if !e.ModTime.IsZero() {
			rel := filepath.FromSlash(strings.TrimPrefix(e.Path, "/"))
			if err := root.Chtimes(rel, e.ModTime, e.ModTime); err != nil {
				return err
			}
		}
	}
	return nil
}

// Check looks for damage littlefs would trip over: metadata pairs without
// a valid commit or with commits failing their CRC, loops in the metadata
// list, directories whose pairs are missing from the metadata list (the
// allocator would reuse their blocks) or pairs no directory uses,
// dangling, looping or inconsistent CTZ pointers, blocks used twice, and
// pending global state (a move or orphans left by a power loss). An empty
// result means the image is consistent.
func (im *Image) Check() []Problem {
	probs := append([]Problem(nil), im.problems...)
	add := func(path string, block int, format string, a ...any) {
		probs = append(probs, Problem{Path: path, Block: block, Msg: fmt.Sprintf(format, a...)})
	}
	inThread := map[[2]uint32]bool{}
	for _, p := range im.thread {
		inThread[pairKey(p)] = true
		if _, ok := im.dirPairs[pairKey(p)]; !ok {
			add("", int(p[0]), "metadata pair {%d, %d} is on the metadata list but no directory uses it (orphan)", p[0], p[1])
		}
	}
	var reached [][2]uint32
	for p := range im.dirPairs {
		reached = append(reached, p)
	}
	sort.Slice(reached, func(i, j int) bool { return reached[i][0] < reached[j][0] })
	for _, p := range reached {
		if !inThread[p] {
			add(im.dirPairs[p], int(p[0]), "metadata pair {%d, %d} is missing from the metadata list: littlefs' allocator would treat its blocks as free", p[0], p[1])
		}
	}
	if im.gs.hasMove() {
		add("", int(im.gs.pair[0]), "pending move of id %d in pair {%d, %d} (interrupted rename); littlefs finishes it on the next write", im.gs.tag.id(), im.gs.pair[0], im.gs.pair[1])
	}
	if n := im.gs.orphans(); n != 0 {
		add("", -1, "%d orphaned metadata pair(s) pending (interrupted mkdir/remove); littlefs cleans up on the next write", n)
	}

	owner := map[uint32]string{}
	claim := func(b uint32, who, path string) {
		if prev, ok := owner[b]; ok {
			add(path, int(b), "block used by both %s and %s", prev, who)
			return
		}
		owner[b] = who
	}
	for _, p := range im.thread {
		claim(p[0], fmt.Sprintf("metadata pair {%d, %d}", p[0], p[1]), "")
		claim(p[1], fmt.Sprintf("metadata pair {%d, %d}", p[0], p[1]), "")
	}
	for _, p := range reached {
		if !inThread[p] {
			claim(p[0], "metadata of "+im.dirPairs[p], im.dirPairs[p])
			claim(p[1], "metadata of "+im.dirPairs[p], im.dirPairs[p])
		}
	}
	for _, e := range im.Entries {
		f, ok := im.files[e.Path]
		if !ok || !f.ctz {
			continue
		}
		if int64(f.size) > im.fileMax {
			add(e.Path, -1, "size %d is larger than the file max", f.size)
		}
		blocks, err := im.ctzBlocks(f.head, f.size)
		if err != nil {
			add(e.Path, int(f.head), "%v", err)
			continue
		}
		for _, b := range blocks {
			claim(b, e.Path, e.Path)
		}
	}
	return probs
}
