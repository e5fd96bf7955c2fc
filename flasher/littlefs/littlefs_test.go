package littlefs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iotbench/iotbench/flasher/fstree"
)

var refTime = time.Unix(1700000000, 0).UTC() // MANIFEST.txt: every mtime and the pack clock

// The reference images from mklittlefs 3.1.0 (shared/testdata/fs,
// MANIFEST.txt 2.3 and 2.4) list, read and extract exactly.
func TestReferenceImages(t *testing.T) {
	shared := sharedFS(t)
	input, err := fstree.FromDir(filepath.Join(shared, "input"))
	if err != nil {
		t.Fatal(err)
	}
	exp := treeWant(input)
	for _, c := range []struct {
		name      string
		size, bs  int
		wantPairs int
	}{
		{"littlefs-4m1m.bin", 0xFA000, 8192, 2},
		{"littlefs-1m64.bin", 0x10000, 4096, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			img, err := os.ReadFile(filepath.Join(shared, c.name))
			if err != nil {
				t.Fatal(err)
			}
			p, err := Detect(img)
			if err != nil {
				t.Fatal(err)
			}
			if want := ESP8266Params(c.size, c.bs); p != want {
				t.Fatalf("Detect = %+v, want %+v", p, want)
			}
			im, err := Read(img, p)
			if err != nil {
				t.Fatal(err)
			}
			if im.Version != "2.0" || im.BlockSize != c.bs || im.BlockCount != c.size/c.bs {
				t.Errorf("version %s, %d blocks of %d", im.Version, im.BlockCount, im.BlockSize)
			}
			checkContent(t, im, exp)
			checkClean(t, im)
			if len(im.thread) != c.wantPairs {
				t.Errorf("metadata list %v, want %d pairs", im.thread, c.wantPairs)
			}
			for _, e := range im.Entries {
				if !e.ModTime.Equal(refTime) {
					t.Errorf("%s: ModTime %v, want %v", e.Path, e.ModTime, refTime)
				}
			}
			dir := t.TempDir()
			if err := im.Extract(dir); err != nil {
				t.Fatal(err)
			}
			checkExtracted(t, dir, exp)
			st, err := os.Stat(filepath.Join(dir, "www", "index.html"))
			if err != nil || !st.ModTime().Equal(refTime) {
				t.Errorf("extracted mtime %v (%v), want %v", st.ModTime(), err, refTime)
			}
			// The same image read with the other layout fails like a mount.
			other := ESP8266Params(c.size, 12288-c.bs)
			other.Size = c.size / other.BlockSize * other.BlockSize
			if _, err := Read(img, other); err == nil {
				t.Error("Read with the wrong block size succeeded")
			}
		})
	}
}

// testdata/written-by-littlefs-32k.bin started as an image of a small
// made-up tree built by this package (512-byte blocks, 64 blocks), then
// littlefs v2.5.1 itself (ESP8266 configuration, in a local harness) ran
// a few hundred random mkdirs, creates, appends and removes on it. It holds
// what only littlefs writes: multi-commit logs, create/delete splices,
// superseded structs, move-state deltas, split and relocated pairs.
// testdata/written-by-littlefs-32k.txt is the listing littlefs gave
// (type, path, size, CRC-32 of the content).
func TestReadLittlefsWrittenImage(t *testing.T) {
	img, err := os.ReadFile(filepath.Join("testdata", "written-by-littlefs-32k.bin"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "written-by-littlefs-32k.txt"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Detect(img)
	if err != nil {
		t.Fatal(err)
	}
	if p != ESP8266Params(32*1024, 512) {
		t.Fatalf("Detect = %+v", p)
	}
	im, err := Read(img, p)
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for _, e := range im.Entries {
		if e.IsDir {
			fmt.Fprintf(&got, "D %s\n", e.Path)
			continue
		}
		data, err := im.ReadFile(e.Path)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&got, "F %s %d %08x\n", e.Path, len(data), crc32.ChecksumIEEE(data))
	}
	if got.String() != string(want) {
		t.Errorf("listing differs from littlefs'\ngot:\n%s\nwant:\n%s", got.String(), want)
	}
	checkClean(t, im)
	if len(im.thread) < 10 {
		t.Errorf("metadata list %v: expected the pairs littlefs made", im.thread)
	}
}

// Our images of the reference input read back, for both layouts.
func TestBuildReferenceInput(t *testing.T) {
	input, err := fstree.FromDir(filepath.Join(sharedFS(t), "input"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []Params{ESP8266Params(0xFA000, 8192), ESP8266Params(0x10000, 4096)} {
		img, err := Build(input, p, Options{FixedTime: &refTime})
		if err != nil {
			t.Fatal(err)
		}
		if len(img) != p.Size {
			t.Fatalf("image is %d bytes, want %d", len(img), p.Size)
		}
		// Superblock as the manifest describes it (SPEC.md superblock).
		if !bytes.Equal(img[8:16], []byte(magic)) || le32(img[20:]) != 0x00020000 || le32(img[24:]) != uint32(p.BlockSize) ||
			le32(img[28:]) != uint32(p.Size/p.BlockSize) || le32(img[32:]) != 32 || le32(img[36:]) != 0x7fffffff || le32(img[40:]) != 1022 {
			t.Errorf("superblock fields: % x", img[:44])
		}
		got, err := Detect(img)
		if err != nil || got != p {
			t.Fatalf("Detect = %+v, %v; want %+v", got, err, p)
		}
		im, err := Read(img, p)
		if err != nil {
			t.Fatal(err)
		}
		checkContent(t, im, treeWant(input))
		checkClean(t, im)
		for _, e := range im.Entries {
			if !e.ModTime.Equal(refTime) {
				t.Errorf("%s: ModTime %v", e.Path, e.ModTime)
			}
		}
		dir := t.TempDir()
		if err := im.Extract(dir); err != nil {
			t.Fatal(err)
		}
		checkExtracted(t, dir, treeWant(input))
	}
}

// Property test: random trees (nested and empty folders, empty, inline,
// boundary and multi-block files, names up to the limit, full images)
// read back exactly.
func TestRandomTreesRoundTrip(t *testing.T) {
	layouts := []Params{
		ESP8266Params(0x10000, 4096),  // 1M64
		ESP8266Params(0x20000, 4096),  // 1M128
		ESP8266Params(0xB000, 4096),   // 2M64: 11 blocks
		ESP8266Params(0xFA000, 8192),  // 4M1M
		ESP8266Params(0x7A000, 8192),  // 2M512
		ESP8266Params(0x8000, 4096),   // 512K32: 8 blocks
		ESP8266Params(64*1024, 1024),  // not an ESP8266 layout: more pointers per CTZ list
		ESP8266Params(16*1024, 256),   // tiny blocks: long skip-lists, split directories
		ESP8266Params(0x3B000, 4096),  // 2M256
		ESP8266Params(0x40000, 4096),  // 1M256
		ESP8266Params(0x80000, 8192),  // 1M512
		ESP8266Params(24*1024, 128),   // the smallest block size
		ESP8266Params(0x1FA000, 8192), // 4M2M
	}
	iters := 60
	if testing.Short() {
		iters = 15
	}
	rng := rand.New(rand.NewSource(20240601))
	for i := 0; i < iters; i++ {
		p := layouts[i%len(layouts)]
		full := i%3 == 2
		tr := randomTree(rng, p, full)
		img, err := Build(tr, p, Options{})
		if err != nil {
			t.Fatalf("iteration %d: %v\n%s", i, err, describeTree(tr))
		}
		dp, err := Detect(img)
		if err != nil || dp != p {
			t.Fatalf("iteration %d: Detect = %+v, %v", i, dp, err)
		}
		im, err := Read(img, p)
		if err != nil {
			t.Fatalf("iteration %d: %v", i, err)
		}
		checkContent(t, im, treeWant(tr))
		checkClean(t, im)
		if full {
			if _, err := Build(withFile(tr, "/zz-one-more", 1+p.BlockSize), p, Options{}); err == nil {
				t.Errorf("iteration %d: a full image took another block", i)
			}
		}
		if t.Failed() {
			t.Fatalf("iteration %d (%d bytes, block %d):\n%s", i, p.Size, p.BlockSize, describeTree(tr))
		}
	}
}

func withFile(tr *fstree.Tree, p string, size int) *fstree.Tree {
	t2 := *tr
	t2.Files = append(append([]fstree.File(nil), tr.Files...), fstree.File{Path: p, Data: make([]byte, size)})
	return &t2
}

// Directories with many entries span several metadata pairs (hard tails).
func TestLargeDirectories(t *testing.T) {
	for _, p := range []Params{ESP8266Params(0x20000, 4096), ESP8266Params(0xFA000, 8192)} {
		var files []fstree.File
		for i := 0; i < 300; i++ {
			name := strings.Repeat("n", i%32) + string(rune('a'+i%26)) + string(rune('a'+i/26))
			if len(name) > 31 {
				name = name[len(name)-31:]
			}
			files = append(files, fstree.File{Path: "/d/" + name, Data: bytes.Repeat([]byte{byte(i)}, i%65)})
		}
		tr, err := fstree.FromFiles(files)
		if err != nil {
			t.Fatal(err)
		}
		img, err := Build(tr, p, Options{FixedTime: &refTime})
		if err != nil {
			t.Fatal(err)
		}
		im, err := Read(img, p)
		if err != nil {
			t.Fatal(err)
		}
		checkContent(t, im, treeWant(tr))
		checkClean(t, im)
		if len(im.thread) < 3 {
			t.Errorf("expected /d to span several pairs, metadata list %v", im.thread)
		}
	}
}

func TestTimestamps(t *testing.T) {
	t1 := time.Unix(1600000000, 0)
	t2 := time.Unix(1650000000, 0)
	tr, err := fstree.FromFiles([]fstree.File{
		{Path: "/a/x", Data: []byte("x"), ModTime: t1},
		{Path: "/a/b/y", Data: make([]byte, 5000), ModTime: t2},
		{Path: "/z", Data: nil},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := ESP8266Params(0x10000, 4096)
	before := time.Now().Add(-time.Second)
	img, err := Build(tr, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	im, err := Read(img, p)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]time.Time{}
	for _, e := range im.Entries {
		got[e.Path] = e.ModTime
	}
	// Files keep their ModTime, folders the newest below them, files
	// without a time get the build time.
	for p, want := range map[string]time.Time{"/a/x": t1, "/a/b/y": t2, "/a": t2, "/a/b": t2} {
		if !got[p].Equal(want) {
			t.Errorf("%s: %v, want %v", p, got[p], want)
		}
	}
	if got["/z"].Before(before) {
		t.Errorf("/z: %v, want the build time", got["/z"])
	}
	// Root: 8-byte 't' and 'c' on the superblock entry, as mklittlefs.
	m, _, err := im.r.fetch([2]uint32{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if a := m.entries[0].attrs; len(a[attrTime]) != 8 || len(a[attrCreated]) != 8 {
		t.Errorf("root attributes %v", a)
	}
}

func TestReproducible(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	p := ESP8266Params(0x20000, 4096)
	tr := randomTree(rng, p, false)
	ft := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	a, err := Build(tr, p, Options{FixedTime: &ft})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(tr, p, Options{FixedTime: &ft})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two builds with FixedTime differ")
	}
	// Input order does not matter either.
	rev := *tr
	rev.Files = append([]fstree.File(nil), tr.Files...)
	for i, j := 0, len(rev.Files)-1; i < j; i, j = i+1, j-1 {
		rev.Files[i], rev.Files[j] = rev.Files[j], rev.Files[i]
	}
	c, err := Build(&rev, p, Options{FixedTime: &ft})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, c) {
		t.Error("file order changed the image")
	}
	ft2 := ft.Add(time.Hour)
	d, err := Build(tr, p, Options{FixedTime: &ft2})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, d) {
		t.Error("a different FixedTime gave the same bytes")
	}
	im, err := Read(a, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range im.Entries {
		if !e.ModTime.Equal(ft) {
			t.Errorf("%s: ModTime %v, want %v", e.Path, e.ModTime, ft)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	p := ESP8266Params(0x10000, 4096)
	build := func(files ...fstree.File) error {
		_, err := Build(&fstree.Tree{Files: files}, p, Options{})
		return err
	}
	long := strings.Repeat("a", 33)
	for _, c := range []struct {
		name  string
		err   error
		wants []string
	}{
		{"name over NameMax", build(fstree.File{Path: "/" + long}), []string{long, "33 bytes", "at most 32"}},
		{"folder name over NameMax", build(fstree.File{Path: "/" + long + "/x"}), []string{"33 bytes", "at most 32"}},
		{"multibyte name over NameMax", build(fstree.File{Path: "/" + strings.Repeat("é", 17)}), []string{"34 bytes"}},
		{"non-UTF-8", build(fstree.File{Path: "/bad\xff.txt"}), []string{"not valid UTF-8", "ESP8266"}},
		{"NUL", build(fstree.File{Path: "/a\x00b"}), []string{"NUL"}},
		{"too large", build(fstree.File{Path: "/big", Data: make([]byte, 70000)}), []string{"needs 20 blocks", "has 16", "use a bigger FS layout"}},
		{"duplicate", build(fstree.File{Path: "/a"}, fstree.File{Path: "/a"}), []string{"/a appears twice"}},
		{"file and folder", build(fstree.File{Path: "/a"}, fstree.File{Path: "/a/b"}), []string{"both a file and a folder"}},
		{"relative path", build(fstree.File{Path: "a/b"}), []string{"not a clean absolute"}},
		{"dot-dot path", build(fstree.File{Path: "/a/../b"}), []string{"not a clean absolute"}},
	} {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.wants {
			if !strings.Contains(c.err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", c.name, c.err, w)
			}
		}
	}
	// 31 bytes is the most the ESP8266 core can open (NameUsable); a
	// 32-byte name fits littlefs (NameMax) but would be unusable there.
	if err := build(fstree.File{Path: "/" + long[:31] + "/" + long[:31], Data: []byte("x")}); err != nil {
		t.Errorf("31-byte names: %v", err)
	}
	if err := build(fstree.File{Path: "/" + long[:32]}); err == nil || !strings.Contains(err.Error(), "ESP8266 core") {
		t.Errorf("32-byte name for the ESP8266: %v", err)
	}
	generic := p
	generic.NameUsable = 0
	if _, err := Build(&fstree.Tree{Files: []fstree.File{{Path: "/" + long[:32], Data: []byte("x")}}}, generic, Options{}); err != nil {
		t.Errorf("32-byte name with NameUsable unset: %v", err)
	}
	if _, err := Build(nil, p, Options{}); err == nil {
		t.Error("nil tree: no error")
	}
	for _, bad := range []Params{
		{},
		ESP8266Params(0x10001, 4096),
		ESP8266Params(4096, 4096),
		ESP8266Params(0x10000, 100),
		func() Params { q := p; q.ProgSize = 48; return q }(),
		func() Params { q := p; q.BlockCycles = 0; return q }(),
		func() Params { q := p; q.NameMax = 0; return q }(),
		func() Params { q := p; q.LookaheadSize = 12; return q }(),
	} {
		if _, err := Build(&fstree.Tree{}, bad, Options{}); err == nil || !strings.Contains(err.Error(), "invalid LittleFS parameters") {
			t.Errorf("params %+v: error %v", bad, err)
		}
		if _, err := Read(make([]byte, 0x10000), bad); err == nil {
			t.Errorf("Read with params %+v: no error", bad)
		}
	}
}

func TestEmptyImage(t *testing.T) {
	p := ESP8266Params(0x8000, 4096)
	img, err := Build(&fstree.Tree{}, p, Options{FixedTime: &refTime})
	if err != nil {
		t.Fatal(err)
	}
	im, err := Read(img, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Entries) != 0 {
		t.Errorf("entries %v", im.Entries)
	}
	checkClean(t, im)
	// One 128-byte commit in block 0; block 1 and the rest stay erased.
	for i, b := range img[128:] {
		if b != 0xff {
			t.Fatalf("byte %d is %#x, want 0xff", 128+i, b)
		}
	}
}

func TestDetectAndReadErrors(t *testing.T) {
	if _, err := Detect(make([]byte, 4096)); err == nil || !strings.Contains(err.Error(), "not a LittleFS image") {
		t.Errorf("Detect on zeros: %v", err)
	}
	p := ESP8266Params(0x10000, 4096)
	img, err := Build(&fstree.Tree{Files: []fstree.File{{Path: "/a", Data: []byte("hello")}}}, p, Options{FixedTime: &refTime})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Detect(img[:0x8000]); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("Detect on a truncated image: %v", err)
	}
	if _, err := Read(img[:0x8000], p); err == nil {
		t.Error("Read on a truncated image: no error")
	}
	// Block 0 erased: Detect falls back to block 1 only if it has a
	// superblock; ours leaves block 1 erased, so this is not LittleFS.
	broken := bytes.Clone(img)
	for i := 0; i < 4096; i++ {
		broken[i] = 0xff
	}
	if _, err := Detect(broken); err == nil {
		t.Error("Detect with both superblock blocks erased: no error")
	}
	if _, err := Read(broken, p); err == nil {
		t.Error("Read with both superblock blocks erased: no error")
	}
	// A newer disk version does not mount on littlefs 2.5.
	v21 := bytes.Clone(img)
	putLE32(v21[20:], 0x00020001)
	fixCRCs(v21, p.BlockSize)
	if _, err := Read(v21, p); err == nil || !strings.Contains(err.Error(), "2.1") {
		t.Errorf("Read on a 2.1 image: %v", err)
	}
	// A larger name max does not mount with LFS_NAME_MAX=32.
	n255 := bytes.Clone(img)
	putLE32(n255[32:], 255)
	fixCRCs(n255, p.BlockSize)
	if _, err := Read(n255, p); err == nil || !strings.Contains(err.Error(), "name max 255") {
		t.Errorf("Read with name max 255: %v", err)
	}
	q, err := Detect(n255)
	if err != nil || q.NameMax != 255 {
		t.Errorf("Detect with name max 255: %+v, %v", q, err)
	}
	if _, err := Read(n255, q); err != nil {
		t.Errorf("Read with detected params: %v", err)
	}
}

// Damage is reported by Check (and ReadFile), never a panic or a hang.
func TestCheckFindsDamage(t *testing.T) {
	p := ESP8266Params(0x10000, 4096)
	tr, err := fstree.FromFiles([]fstree.File{
		{Path: "/big", Data: randomData(rand.New(rand.NewSource(1)), 5*4096)},
		{Path: "/d/small", Data: []byte("small")},
		{Path: "/d/mid", Data: make([]byte, 3000)},
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := Build(tr, p, Options{FixedTime: &refTime})
	if err != nil {
		t.Fatal(err)
	}
	im, err := Read(img, p)
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, im)
	bigRef := im.files["/big"]
	blocks, err := im.ctzBlocks(bigRef.head, bigRef.size)
	if err != nil || len(blocks) != 6 {
		t.Fatalf("big: blocks %v, %v", blocks, err)
	}
	dPair := im.thread[1]

	expectProblem := func(name string, img []byte, want string) {
		t.Helper()
		im, err := Read(img, p)
		if err != nil {
			t.Fatalf("%s: Read: %v", name, err)
		}
		probs := im.Check()
		for _, pr := range probs {
			if strings.Contains(pr.String(), want) {
				return
			}
		}
		t.Errorf("%s: no problem mentioning %q in %v", name, want, probs)
	}

	// A flipped byte in /d's metadata: its only commit fails the CRC.
	bad := bytes.Clone(img)
	bad[int(dPair[0])*4096+10] ^= 0x40
	expectProblem("bad CRC", bad, "no valid commit")

	// A CTZ pointer to itself: a loop.
	loop := bytes.Clone(img)
	putLE32(loop[int(blocks[5])*4096:], blocks[5])
	expectProblem("CTZ loop", loop, "loops")
	im2, _ := Read(loop, p)
	if _, err := im2.ReadFile("/big"); err == nil {
		t.Error("ReadFile on a looping CTZ list: no error")
	}

	// A CTZ pointer outside the image.
	out := bytes.Clone(img)
	putLE32(out[int(blocks[3])*4096:], 9999)
	expectProblem("CTZ dangling", out, "outside the image")

	// An inconsistent skip pointer (block 4 points 2 back to block 2).
	skip := bytes.Clone(img)
	putLE32(skip[int(blocks[4])*4096+4:], blocks[3])
	expectProblem("CTZ skip", skip, "skip pointer 1")

	// Two files sharing a block.
	share := bytes.Clone(img)
	patchStruct(t, share, p, "mid", func(s []byte) { putLE32(s, blocks[0]) })
	expectProblem("shared block", share, "used by both")

	// The metadata list loops: the last pair's tail back to the root.
	cyc := bytes.Clone(img)
	appendCommit(cyc, p, dPair[0], mkTag(typeSoftTail, 0x3ff, 8), pairBytes([2]uint32{0, 1}))
	expectProblem("list loop", cyc, "loops back")

	// /d dropped from the metadata list: its pair would be reused.
	drop := bytes.Clone(img)
	appendCommit(drop, p, 0, mkTag(typeSoftTail, 0x3ff, 8), pairBytes([2]uint32{blockNull, blockNull}))
	expectProblem("missing from list", drop, "missing from the metadata list")

	// A pending move (power lost mid-rename) hides its source entry, as
	// littlefs' synthetic move does, and is reported.
	moved := bytes.Clone(img)
	var delta [gstateSize]byte
	putLE32(delta[0:], uint32(mkTag(typeDelete, 1, 0))) // id 1 of the root pair: "/big"
	putLE32(delta[4:], 0)
	putLE32(delta[8:], 1)
	appendCommit(moved, p, 0, mkTag(typeMoveState, 0x3ff, gstateSize), delta[:])
	expectProblem("pending move", moved, "pending move of id 1")
	imMoved, _ := Read(moved, p)
	for _, e := range imMoved.Entries {
		if e.Path == "/big" {
			t.Error("the source of a pending move is still listed")
		}
	}
	if len(imMoved.Entries) != len(im.Entries)-1 {
		t.Errorf("pending move: %d entries, want %d", len(imMoved.Entries), len(im.Entries)-1)
	}

	// A failed commit after a valid one is reported, the valid one used.
	torn := bytes.Clone(img)
	appendCommit(torn, p, dPair[0], mkTag(typeUserAttr+'x', 0, 4), []byte{1, 2, 3, 4})
	end, _ := logEnd(img, p, dPair[0])
	torn[int(dPair[0])*4096+end+6] ^= 1
	expectProblem("torn commit", torn, "fails its CRC")
}

// logEnd walks a block of ours and returns the offset after its last
// commit and the tag the next commit XORs with.
func logEnd(img []byte, p Params, blk uint32) (int, tag) {
	b := img[int(blk)*p.BlockSize : int(blk+1)*p.BlockSize]
	off, ptag := 4, tag(0xffffffff)
	end, etag := 4, ptag
	for off+4 <= len(b) {
		t := tag(be32(b[off:])) ^ ptag
		if !t.valid() || off+t.diskSize() > len(b) {
			break
		}
		ptag = t
		if t.type1() == typeCRC {
			ptag ^= tag(t.chunk()&1) << 31
			end, etag = off+t.diskSize(), ptag
		}
		off += t.diskSize()
	}
	return end, etag
}

// appendCommit appends a commit with one tag to a metadata block, as
// littlefs does on the device.
func appendCommit(img []byte, p Params, blk uint32, t tag, data []byte) {
	end, ptag := logEnd(img, p, blk)
	c := &commit{ptag: ptag}
	c.add(t, data)
	coff := end + len(c.buf)
	cend := alignUp(coff+8, p.ProgSize)
	ct := mkTag(typeCRC, 0x3ff, uint32(cend-coff-4))
	c.buf = binary.BigEndian.AppendUint32(c.buf, uint32(ct^c.ptag))
	c.buf = binary.LittleEndian.AppendUint32(c.buf, crc(0xffffffff, c.buf))
	copy(img[int(blk)*p.BlockSize+end:], c.buf)
}

// patchStruct rewrites the struct data of the entry named name in any
// metadata block, fixing the CRCs afterwards.
func patchStruct(t *testing.T, img []byte, p Params, name string, f func([]byte)) {
	t.Helper()
	for blk := 0; blk < p.blockCount(); blk++ {
		b := img[blk*p.BlockSize : (blk+1)*p.BlockSize]
		off, ptag := 4, tag(0xffffffff)
		id := uint32(blockNull)
		for off+4 <= len(b) {
			tt := tag(be32(b[off:])) ^ ptag
			if !tt.valid() || off+tt.diskSize() > len(b) {
				break
			}
			ptag = tt
			data := b[off+4 : off+tt.diskSize()]
			if tt.type1() == typeName && string(data) == name {
				id = tt.id()
			}
			if tt.type1() == typeStruct && tt.id() == id {
				f(data)
				fixCRCs(img, p.BlockSize)
				return
			}
			if tt.type1() == typeCRC {
				ptag ^= tag(tt.chunk()&1) << 31
			}
			off += tt.diskSize()
		}
	}
	t.Fatalf("entry %q not found", name)
}

// fixCRCs recomputes the CRC of every commit in every block, so tests and
// the fuzzer can change tags and still get past the CRC check.
func fixCRCs(img []byte, bs int) {
	for start := 0; start+bs <= len(img); start += bs {
		b := img[start : start+bs]
		off, ptag := 4, tag(0xffffffff)
		sum := crc(0xffffffff, b[:4])
		for off+4 <= len(b) {
			raw := b[off : off+4]
			sum = crc(sum, raw)
			tt := tag(be32(raw)) ^ ptag
			if !tt.valid() || off+tt.diskSize() > len(b) {
				break
			}
			ptag = tt
			data := b[off+4 : off+tt.diskSize()]
			if tt.type1() == typeCRC {
				if len(data) < 4 {
					break
				}
				putLE32(data, sum)
				ptag ^= tag(tt.chunk()&1) << 31
				sum = 0xffffffff
			} else {
				sum = crc(sum, data)
			}
			off += tt.diskSize()
		}
	}
}

// Extract never writes outside its folder, even through a symbolic link
// planted in the target.
func TestExtractStaysInside(t *testing.T) {
	p := ESP8266Params(0x10000, 4096)
	tr, err := fstree.FromFiles([]fstree.File{{Path: "/www/index.html", Data: []byte("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := Build(tr, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	im, err := Read(img, p)
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	target := filepath.Join(base, "target")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(target, "www")); err != nil {
		t.Skipf("no symlinks here: %v", err)
	}
	if err := im.Extract(target); err == nil {
		t.Error("Extract through an escaping symlink succeeded")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("Extract wrote outside its folder: %v", ents)
	}

	// Names that cannot be paths are skipped by Read and reported.
	bad := bytes.Clone(img)
	patchName(t, bad, p, "www", "..\x00")
	im2, err := Read(bad, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(im2.Entries) != 0 || len(im2.Check()) == 0 {
		t.Errorf("entries %v, problems %v", im2.Entries, im2.Check())
	}
}

// patchName overwrites a name (same length) in a metadata block.
func patchName(t *testing.T, img []byte, p Params, old, new string) {
	t.Helper()
	i := bytes.Index(img, []byte(old))
	if i < 0 || len(old) != len(new) {
		t.Fatalf("name %q not found", old)
	}
	copy(img[i:], new)
	fixCRCs(img, p.BlockSize)
}

func TestCTZIndex(t *testing.T) {
	for _, bs := range []int{128, 256, 512, 4096, 8192} {
		// Walk the layout block by block and compare with the closed form.
		n, start := 0, 0
		for pos := 0; pos < 300*bs; pos++ {
			capacity := bs - 4*ctzPointers(n)
			if pos-start == capacity {
				n, start = n+1, pos
			}
			gn, goff := ctzIndex(pos, bs)
			if gn != n || goff != pos-start+4*ctzPointers(n) {
				t.Fatalf("bs %d pos %d: ctzIndex = (%d, %d), want (%d, %d)", bs, pos, gn, goff, n, pos-start+4*ctzPointers(n))
			}
		}
	}
}

func TestProblemString(t *testing.T) {
	if s := (Problem{Path: "/a", Block: 3, Msg: "bad"}).String(); s != "/a: block 3: bad" {
		t.Error(s)
	}
	if s := (Problem{Block: -1, Msg: "bad"}).String(); s != "bad" {
		t.Error(s)
	}
}
