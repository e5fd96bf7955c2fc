package littlefs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"path"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/iotbench/iotbench/flasher/fstree"
)

// Options tune Build.
type Options struct {
	// FixedTime, when set, is used for every timestamp in the image, so the
	// same input gives the same bytes (reproducible builds).
	//
	// Timestamps mirror mklittlefs 3.1.0: every file and directory gets the
	// user attributes 't' (modified) and 'c' (created) as a 4-byte
	// little-endian Unix time, and the root gets both as an 8-byte time (the
	// pack time). The ESP8266 core's LittleFS reports 't' as the last write
	// time. Without FixedTime a file uses its ModTime (the build time when
	// zero), a directory the newest ModTime of the files below it (the build
	// time when it has none), and the root the build time.
	FixedTime *time.Time
}

// Build makes a LittleFS image of p.Size bytes holding t.
//
// Names are checked first: every path component must be valid UTF-8 (the
// ESP8266 core cannot open other names portably), free of NUL bytes and at
// most p.NameMax bytes long (the ESP8266 core cannot open 32-byte names:
// see the package documentation). Content that does not fit gives an error
// that says how many blocks it needs.
//
// Entries of a directory are stored sorted byte-wise by name, as littlefs
// keeps them; Tree order does not change the result. Folders of t.Dirs
// without files are kept as empty directories (mklittlefs drops them), and
// parents missing from t.Dirs are created.
func Build(t *fstree.Tree, p Params, o Options) ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("littlefs: no input tree")
	}
	now := time.Now()
	if o.FixedTime != nil {
		now = *o.FixedTime
	}
	b := &builder{p: p, bs: p.BlockSize, fixed: o.FixedTime != nil, now: now}
	if err := b.collect(t); err != nil {
		return nil, err
	}
	if err := b.layout(); err != nil {
		return nil, err
	}
	return b.write(), nil
}

type builder struct {
	p     Params
	bs    int
	fixed bool
	now   time.Time

	root  *bdir
	dirs  map[string]*bdir
	order []*bdir // root first, then depth-first in name order: the metadata list order
	files []*bentry

	img []byte
}

// bdir is a directory being built.
type bdir struct {
	path    string
	entries []*bentry // sorted by name
	mtime   int64
	hasTime bool

	names map[string]bool

	groups [][]*bentry // entries per metadata pair
	pairs  [][2]uint32
}

// bentry is one directory entry: a file or a subdirectory.
type bentry struct {
	name  string
	dir   *bdir // subdirectory, or nil for a file
	data  []byte
	mtime int64
	head  uint32 // last block of a CTZ file
}

func (e *bentry) inline(p Params) bool { return e.dir == nil && len(e.data) <= p.inlineMax() }

// checkPath validates an image path and returns its components.
func (b *builder) checkPath(p string) ([]string, error) {
	if !strings.HasPrefix(p, "/") || p == "/" || path.Clean(p) != p {
		return nil, fmt.Errorf("%q: not a clean absolute image path like /www/index.html", p)
	}
	parts := strings.Split(p[1:], "/")
	for _, name := range parts {
		switch {
		case !utf8.ValidString(name):
			return nil, fmt.Errorf("%q: name %q is not valid UTF-8; the ESP8266 core cannot open it portably: rename it", p, name)
		case strings.IndexByte(name, 0) >= 0:
			return nil, fmt.Errorf("%q: name contains a NUL byte: rename it", p)
		case len(name) > b.p.NameMax:
			return nil, fmt.Errorf("%q: name %q is %d bytes, LittleFS allows at most %d (NameMax): shorten it", p, name, len(name), b.p.NameMax)
		case b.p.NameUsable > 0 && len(name) > b.p.NameUsable:
			return nil, fmt.Errorf("%q: name %q is %d bytes; the ESP8266 core's LittleFS cannot open names of more than %d bytes: shorten it", p, name, len(name), b.p.NameUsable)
		}
	}
	return parts, nil
}

func (b *builder) mkdirs(p string) (*bdir, error) {
	if d, ok := b.dirs[p]; ok {
		return d, nil
	}
	parent, err := b.mkdirs(path.Dir(p))
	if err != nil {
		return nil, err
	}
	name := path.Base(p)
	if parent.names[name] {
		return nil, fmt.Errorf("%s is both a file and a folder", p)
	}
	parent.names[name] = true
	d := &bdir{path: p, names: map[string]bool{}}
	b.dirs[p] = d
	parent.entries = append(parent.entries, &bentry{name: name, dir: d})
	return d, nil
}

// collect turns the tree into directories with sorted entries and
// timestamps.
func (b *builder) collect(t *fstree.Tree) error {
	b.root = &bdir{path: "/", names: map[string]bool{}}
	b.dirs = map[string]*bdir{"/": b.root}
	for _, d := range t.Dirs {
		if d == "/" {
			continue
		}
		if _, err := b.checkPath(d); err != nil {
			return err
		}
		if _, err := b.mkdirs(d); err != nil {
			return err
		}
	}
	for _, f := range t.Files {
		if _, err := b.checkPath(f.Path); err != nil {
			return err
		}
		if int64(len(f.Data)) > int64(b.p.FileMax) {
			return fmt.Errorf("%s: %d bytes is larger than the LittleFS file limit of %d bytes", f.Path, len(f.Data), b.p.FileMax)
		}
		parent, err := b.mkdirs(path.Dir(f.Path))
		if err != nil {
			return err
		}
		name := path.Base(f.Path)
		if _, isDir := b.dirs[f.Path]; isDir {
			return fmt.Errorf("%s is both a file and a folder", f.Path)
		}
		if parent.names[name] {
			return fmt.Errorf("%s appears twice", f.Path)
		}
		parent.names[name] = true
		mt := f.ModTime
		if b.fixed || mt.IsZero() {
			mt = b.now
		}
		e := &bentry{name: name, data: f.Data, mtime: mt.Unix()}
		parent.entries = append(parent.entries, e)
		// A directory gets the newest time of the files below it.
		for p := path.Dir(f.Path); p != "/"; p = path.Dir(p) {
			d := b.dirs[p]
			if !d.hasTime || e.mtime > d.mtime {
				d.mtime, d.hasTime = e.mtime, true
			}
		}
	}
	var walk func(d *bdir)
	walk = func(d *bdir) {
		b.order = append(b.order, d)
		// littlefs keeps a directory's entries sorted: names compare as
		// bytes, a prefix before its extensions (lfs_dir_find_match).
		sort.Slice(d.entries, func(i, j int) bool { return d.entries[i].name < d.entries[j].name })
		for _, e := range d.entries {
			if e.dir != nil {
				if b.fixed || !e.dir.hasTime {
					e.dir.mtime = b.now.Unix()
				}
				e.mtime = e.dir.mtime
				walk(e.dir)
			} else {
				b.files = append(b.files, e)
			}
		}
	}
	walk(b.root)
	return nil
}

// Sizes of what a metadata commit holds (tag + data).
const (
	superEntrySize = 4 + len(magic) + 4 + superblockSize + 2*(4+8) // name, inline struct, root 't'/'c' (8-byte times)
	attrsSize      = 2 * (4 + 4)                                   // 't' and 'c' as 4-byte times
	tailSize       = 4 + 8
	crcMinSize     = 4 + 4
)

func (b *builder) entrySize(e *bentry) int {
	n := 4 + len(e.name) + attrsSize
	if e.inline(b.p) {
		return n + 4 + len(e.data)
	}
	return n + 4 + 8 // dir-struct or CTZ-struct
}

// commitSize is the size of a metadata block holding a commit with
// payload bytes of tags: revision count, tags, tail, CRC tag padded to the
// prog size (lfs_dir_commitcrc).
func (b *builder) commitSize(payload int) int {
	return alignUp(4+payload+tailSize+crcMinSize, b.p.ProgSize)
}

// layout splits directories into metadata pairs and assigns blocks.
func (b *builder) layout() error {
	// lfs_dir_splittingcompact keeps a compacted pair below half a block
	// (and fewer than 0xff ids) so later commits on the device have room;
	// do the same.
	soft := min(b.bs-36, alignUp(b.bs/2, b.p.ProgSize))
	const maxIDs = 0xfe
	pairs := 0
	for _, d := range b.order {
		var cur []*bentry
		size, ids := 0, 0
		if d == b.root {
			size, ids = superEntrySize, 1 // the superblock entry is id 0 of the root's first pair
		}
		for _, e := range d.entries {
			es := b.entrySize(e)
			if ids > 0 && (size+es > soft || ids+1 > maxIDs) {
				d.groups = append(d.groups, cur)
				cur, size, ids = nil, 0, 0
			}
			if b.commitSize(size+es) > b.bs {
				return fmt.Errorf("%s: entry %q does not fit in a %d-byte metadata block: use a bigger block size", d.path, e.name, b.bs)
			}
			cur = append(cur, e)
			size += es
			ids++
		}
		d.groups = append(d.groups, cur)
		pairs += len(d.groups)
	}

	need := 2 * pairs
	for _, f := range b.files {
		if !f.inline(b.p) {
			need += ctzBlockCount(len(f.data), b.bs)
		}
	}
	if have := b.p.blockCount(); need > have {
		return fmt.Errorf("content needs %d blocks of %d bytes, the image has %d: use a bigger FS layout", need, b.bs, have)
	}

	next := uint32(2)
	alloc := func() uint32 { next++; return next - 1 }
	for _, d := range b.order {
		for i := range d.groups {
			if d == b.root && i == 0 {
				d.pairs = append(d.pairs, [2]uint32{0, 1})
				continue
			}
			d.pairs = append(d.pairs, [2]uint32{alloc(), alloc()})
		}
	}
	b.img = bytes.Repeat([]byte{0xff}, b.p.Size)
	for _, f := range b.files {
		if !f.inline(b.p) {
			f.head = b.writeCTZ(f.data, alloc)
		}
	}
	return nil
}

// writeCTZ stores data as a CTZ skip-list (SPEC.md "0x202
// LFS_TYPE_CTZSTRUCT"): block n starts with ctz(n)+1 little-endian
// pointers, pointer k to block n-2^k, then data. Returns the head (last
// block).
func (b *builder) writeCTZ(data []byte, alloc func() uint32) uint32 {
	var blocks []uint32
	for n := 0; len(data) > 0; n++ {
		blk := alloc()
		blocks = append(blocks, blk)
		buf := b.img[int(blk)*b.bs : int(blk+1)*b.bs]
		np := ctzPointers(n)
		for k := 0; k < np; k++ {
			putLE32(buf[4*k:], blocks[n-1<<k])
		}
		c := copy(buf[4*np:], data)
		data = data[c:]
	}
	return blocks[len(blocks)-1]
}

// commit encodes one metadata commit into a block (SPEC.md "Directories /
// Metadata pairs"): revision count, tags XORed with their predecessor and
// stored big-endian, then a CRC tag padded to the prog size.
type commit struct {
	buf  []byte
	ptag tag
}

func newCommit(rev uint32) *commit {
	c := &commit{ptag: 0xffffffff}
	c.buf = binary.LittleEndian.AppendUint32(c.buf, rev)
	return c
}

func (c *commit) add(t tag, data []byte) {
	c.buf = binary.BigEndian.AppendUint32(c.buf, uint32(t^c.ptag))
	c.buf = append(c.buf, data...)
	c.ptag = t
}

// finish appends the CRC tag. The padding after the CRC is left erased
// (0xFF), so the CRC tag's valid-state bit is 0: the next tag then reads
// as invalid, which is how littlefs finds the end of the log and knows it
// may append there (lfs_dir_commitcrc, lfs_dir_fetchmatch).
func (c *commit) finish(progSize int) []byte {
	off := len(c.buf)
	end := alignUp(off+crcMinSize, progSize)
	t := mkTag(typeCRC, 0x3ff, uint32(end-off-4))
	c.buf = binary.BigEndian.AppendUint32(c.buf, uint32(t^c.ptag))
	c.buf = binary.LittleEndian.AppendUint32(c.buf, crc(0xffffffff, c.buf))
	for len(c.buf) < end {
		c.buf = append(c.buf, 0xff)
	}
	return c.buf
}

func time32(unix int64) []byte {
	v := uint32(max(0, min(unix, math.MaxUint32)))
	return binary.LittleEndian.AppendUint32(nil, v)
}

func pairBytes(p [2]uint32) []byte {
	var b [8]byte
	putLE32(b[0:], p[0])
	putLE32(b[4:], p[1])
	return b[:]
}

// write encodes every metadata pair.
func (b *builder) write() []byte {
	type ref struct {
		d *bdir
		i int
	}
	var list []ref
	for _, d := range b.order {
		for i := range d.groups {
			list = append(list, ref{d, i})
		}
	}
	for li, r := range list {
		d := r.d
		c := newCommit(1) // a fresh pair: lfs_dir_alloc aligns 0 to block_cycles, compaction adds 1
		id := uint32(0)
		if d == b.root && r.i == 0 {
			var sb [superblockSize]byte
			putLE32(sb[0:], diskVersion)
			putLE32(sb[4:], uint32(b.bs))
			putLE32(sb[8:], uint32(b.p.blockCount()))
			putLE32(sb[12:], uint32(b.p.NameMax))
			putLE32(sb[16:], uint32(b.p.FileMax))
			putLE32(sb[20:], uint32(b.p.AttrMax))
			c.add(mkTag(typeSuperblock, 0, uint32(len(magic))), []byte(magic))
			c.add(mkTag(typeInline, 0, superblockSize), sb[:])
			// Root attributes go on id 0 (lfs_commitattr); mklittlefs
			// stores the pack time as an 8-byte time_t.
			rt := binary.LittleEndian.AppendUint64(nil, uint64(b.now.Unix()))
			c.add(mkTag(typeUserAttr+attrCreated, 0, 8), rt)
			c.add(mkTag(typeUserAttr+attrTime, 0, 8), rt)
			id = 1
		}
		for _, e := range d.groups[r.i] {
			switch {
			case e.dir != nil:
				c.add(mkTag(typeDir, id, uint32(len(e.name))), []byte(e.name))
				c.add(mkTag(typeDirStruct, id, 8), pairBytes(e.dir.pairs[0]))
			case e.inline(b.p):
				c.add(mkTag(typeReg, id, uint32(len(e.name))), []byte(e.name))
				c.add(mkTag(typeInline, id, uint32(len(e.data))), e.data)
			default:
				c.add(mkTag(typeReg, id, uint32(len(e.name))), []byte(e.name))
				var s [8]byte
				putLE32(s[0:], e.head)
				putLE32(s[4:], uint32(len(e.data)))
				c.add(mkTag(typeCTZ, id, 8), s[:])
			}
			t := time32(e.mtime)
			c.add(mkTag(typeUserAttr+attrCreated, id, 4), t)
			c.add(mkTag(typeUserAttr+attrTime, id, 4), t)
			id++
		}
		// Tail: the next pair of the same directory (hard tail) or the
		// first pair of the next directory in the list (soft tail); the
		// last pair has none.
		if li+1 < len(list) {
			n := list[li+1]
			typ := uint32(typeSoftTail)
			if n.d == d {
				typ = typeHardTail
			}
			c.add(mkTag(typ, 0x3ff, 8), pairBytes(n.d.pairs[n.i]))
		}
		blk := d.pairs[r.i][0]
		copy(b.img[int(blk)*b.bs:], c.finish(b.p.ProgSize))
	}
	return b.img
}
