package spiffs

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/iotbench/iotbench/flasher/fstree"
)

func TestEmptyTree(t *testing.T) {
	for _, p := range []Params{ESP8266Params(0x10000, 4096), ESP8266Params(0xFA000, 8192), ESP32Params(0x20000)} {
		for _, tr := range []*fstree.Tree{nil, {}} {
			img := mustBuild(t, tr, p)
			g, _ := p.geom()
			// A formatted file system: each block's lookup page has only
			// the magic and erase count 0, everything else is 0xFF.
			for b := 0; b < g.N; b++ {
				blk := img[b*g.B : (b+1)*g.B]
				for i, c := range blk {
					want := byte(0xFF)
					switch i {
					case g.magicOff:
						want = byte(g.magic(b))
					case g.magicOff + 1:
						want = byte(g.magic(b) >> 8)
					case g.eraseOff, g.eraseOff + 1:
						want = 0
					}
					if c != want {
						t.Fatalf("%+v block %d byte %d = %#02x, want %#02x", p, b, i, c, want)
					}
				}
			}
			im, err := Read(img, p)
			if err != nil || len(im.Files) != 0 || len(im.Check()) != 0 {
				t.Fatalf("empty image reads as %v, %v, %v", im.Files, im.Check(), err)
			}
		}
	}
	// ESP8266 magic is the same in every block: 0x0429 (docs §3.3).
	img := mustBuild(t, nil, ESP8266Params(0x10000, 4096))
	if img[252] != 0x29 || img[253] != 0x04 {
		t.Errorf("block 0 magic bytes % x, want 29 04", img[252:254])
	}
}

func TestNameLimit(t *testing.T) {
	p := ESP8266Params(0x10000, 4096)
	ok := "/" + strings.Repeat("n", 30) // 31 bytes: the longest SPIFFS takes
	img := mustBuild(t, &fstree.Tree{Files: []fstree.File{{Path: ok, Data: []byte("x")}}}, p)
	checkReadBack(t, img, p, &fstree.Tree{Files: []fstree.File{{Path: ok, Data: []byte("x")}}})

	long := "/www/" + strings.Repeat("n", 27) // 32 bytes
	_, err := Build(&fstree.Tree{Files: []fstree.File{{Path: long}}}, p)
	want := long + ": 32 bytes, the limit is 31: shorten the name"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

func TestBuildErrors(t *testing.T) {
	p := ESP8266Params(0x10000, 4096)
	for _, c := range []struct {
		name  string
		p     Params
		files []fstree.File
		want  string
	}{
		{"page size", Params{Size: 0x10000, PageSize: 300, BlockSize: 4096, ObjNameLen: 32}, nil, "page size 300"},
		{"block size", ESP8266Params(0x10000, 1000), nil, "block size 1000"},
		{"image size", ESP8266Params(0x10001, 4096), nil, "image size 65537"},
		{"too few blocks", ESP8266Params(0x2000, 4096), nil, "at least 3"},
		{"name len", Params{Size: 0x10000, PageSize: 256, BlockSize: 4096, ObjNameLen: 1}, nil, "object name length 1"},
		{"duplicate", p, []fstree.File{{Path: "/a"}, {Path: "/a"}}, "/a: appears twice"},
		{"relative", p, []fstree.File{{Path: "a"}}, "start with"},
		{"nul", p, []fstree.File{{Path: "/a\x00b"}}, "NUL"},
		{"empty", p, []fstree.File{{Path: ""}}, "empty path"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Build(&fstree.Tree{Files: c.files}, c.p)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
}

// TestTooBig: content beyond SPIFFS' hard limit fails at once with the
// numbers.
func TestTooBig(t *testing.T) {
	p := ESP8266Params(0x10000, 4096)
	tr := mustTree(t, []fstree.File{{Path: "/a.bin", Data: make([]byte, 60000)}})
	_, err := Build(tr, p)
	if !errors.Is(err, ErrFull) {
		t.Fatalf("err = %v, want ErrFull", err)
	}
	// 60000 bytes: 240 data pages + 1 header + 2 further index pages.
	want := "content needs 62208 bytes of pages but a 64 KiB (0x10000 bytes) image with these parameters holds at most 53760: use a bigger FS layout or remove files"
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v\nwant it to contain %q", err, want)
	}
}

// layouts the property test draws from: every ESP8266 layout up to 1 MB
// (docs §1.1) and ESP32 partitions.
var propLayouts = []Params{
	ESP8266Params(0x8000, 4096), ESP8266Params(0xB000, 4096), ESP8266Params(0x10000, 4096),
	ESP8266Params(0x20000, 4096), ESP8266Params(0x24000, 4096), ESP8266Params(0x40000, 4096),
	ESP8266Params(0x7A000, 8192), ESP8266Params(0x80000, 8192), ESP8266Params(0xFA000, 8192),
	ESP32Params(0x10000), ESP32Params(0x30000), ESP32Params(0x100000),
}

const nameChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.+"

func randName(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = nameChars[r.IntN(len(nameChars))]
	}
	if s := string(b); s == "." || s == ".." {
		return "x" + s[1:]
	}
	return string(b)
}

// randTree makes a tree for an image of p: nested folders, names up to
// the 31-byte limit, empty files, files spanning many pages (and more
// than one index page), filling up to about the image's capacity.
func randTree(r *rand.Rand, p Params) *fstree.Tree {
	g, _ := p.geom()
	capacity := g.E * (g.N - 2) * g.D
	target := int(float64(capacity) * (0.05 + r.Float64()*0.95))
	dirs := []string{""}
	var files []fstree.File
	seen := map[string]bool{}
	for total := 0; total < target && len(files) < 200; {
		if r.IntN(4) == 0 {
			d := dirs[r.IntN(len(dirs))] + "/" + randName(r, 1+r.IntN(8))
			if len(d) < 24 && !seen[d] {
				dirs = append(dirs, d)
				seen[d] = true
			}
		}
		d := dirs[r.IntN(len(dirs))]
		room := g.nameLen - 1 - len(d) - 1
		if room < 1 {
			continue
		}
		n := room
		if r.IntN(3) != 0 {
			n = 1 + r.IntN(room)
		}
		name := d + "/" + randName(r, n)
		if seen[name] {
			continue
		}
		seen[name] = true
		var size int
		switch r.IntN(5) {
		case 0:
			size = 0
		case 1:
			size = r.IntN(600)
		case 2:
			size = r.IntN(8000)
		case 3:
			size = r.IntN(capacity/3 + 1) // often several index pages
		default:
			size = r.IntN(40000)
		}
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		files = append(files, fstree.File{Path: name, Data: data})
		total += size
	}
	tr, err := fstree.FromFiles(files)
	if err != nil {
		panic(err)
	}
	return tr
}

// TestRoundTrip builds random trees and reads them back. A tree that
// does not fit loses files from its end until it does, so many images end
// up nearly full (and garbage collected).
func TestRoundTrip(t *testing.T) {
	n := 60
	if testing.Short() {
		n = 15
	}
	r := rand.New(rand.NewPCG(1, 2))
	full, gcd := 0, 0
	for i := 0; i < n; i++ {
		p := propLayouts[r.IntN(len(propLayouts))]
		if r.IntN(4) == 0 {
			p.GCMaxRuns = 5
		}
		tr := randTree(r, p)
		for {
			img, err := Build(tr, p)
			if errors.Is(err, ErrFull) && len(tr.Files) > 0 {
				tr.Files = tr.Files[:len(tr.Files)-1]
				full++
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			checkReadBack(t, img, p, tr)
			if !bytes.Equal(mustNormalize(t, img, p), img) {
				t.Fatal("Build output changes under Normalize")
			}
			if dp, err := Detect(img); err != nil || (len(tr.Files) > 0 && !sameLayout(dp, p)) {
				t.Fatalf("Detect = %+v, %v; built with %+v", dp, err, p)
			}
			g, _ := p.geom()
			for b := 0; b < g.N; b++ {
				if le16(img[b*g.B+g.eraseOff:]) != 0 {
					gcd++
					break
				}
			}
			break
		}
	}
	t.Logf("%d trees, %d shortened to fit, %d garbage collected", n, full, gcd)
	if !testing.Short() && gcd < n/4 {
		t.Errorf("only %d of %d images were garbage collected: the test does not fill images enough", gcd, n)
	}
}

func sameLayout(a, b Params) bool {
	a.GCMaxRuns, b.GCMaxRuns = 0, 0
	return a == b
}

// TestExactFit: a tree at the capacity limit builds and reads back, one
// byte more fails cleanly (here with several files and index pages).
func TestExactFit(t *testing.T) {
	p := ESP8266Params(0x20000, 4096)
	files := []fstree.File{
		{Path: "/a/one.bin", Data: stream("fit-1", 30000)},
		{Path: "/a/two.bin", Data: stream("fit-2", 5000)},
		{Path: "/b", Data: nil},
		{Path: "/last.bin", Data: nil},
	}
	fits := func(n int) bool {
		files[3].Data = stream("fit-last", n)
		_, err := Build(mustTree(t, files), p)
		if err != nil && !errors.Is(err, ErrFull) {
			t.Fatal(err)
		}
		return err == nil
	}
	lo, hi := 0, 200000
	if !fits(lo) || fits(hi) {
		t.Fatal("bad bisection bounds")
	}
	for hi-lo > 1 {
		if m := (lo + hi) / 2; fits(m) {
			lo = m
		} else {
			hi = m
		}
	}
	files[3].Data = stream("fit-last", lo)
	tr := mustTree(t, files)
	checkReadBack(t, mustBuild(t, tr, p), p, tr)
	if fits(lo + 1) {
		t.Fatalf("%d bytes fit but %d did not", lo+1, lo+2)
	}
	t.Logf("last file fits up to %d bytes", lo)
}

func TestFileOrderMatters(t *testing.T) {
	// Same files, other order: other ids and pages. Build follows
	// Tree.Files order, which fstree defines.
	p := ESP8266Params(0x10000, 4096)
	a := &fstree.Tree{Files: []fstree.File{{Path: "/a", Data: []byte("A")}, {Path: "/b", Data: []byte("B")}}}
	b := &fstree.Tree{Files: []fstree.File{a.Files[1], a.Files[0]}}
	ia, ib := mustBuild(t, a, p), mustBuild(t, b, p)
	if bytes.Equal(ia, ib) {
		t.Fatal("order does not matter?")
	}
	im, _ := Read(ib, p)
	if im.Files[0].Path != "/b" || im.Files[0].ID != 1 {
		t.Fatalf("first file %+v, want /b with id 1", im.Files[0])
	}
}

// TestCompactionIDs: on big file systems SPIFFS spreads object ids
// (docs §3.5: 1, 24, 47, … on 4M3M).
func TestCompactionIDs(t *testing.T) {
	p := ESP8266Params(0x2FA000, 8192)
	var files []fstree.File
	for i := 0; i < 4; i++ {
		files = append(files, fstree.File{Path: fmt.Sprintf("/f%d", i), Data: []byte{byte(i)}})
	}
	im, err := Read(mustBuild(t, mustTree(t, files), p), p)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint16
	for _, f := range im.Files {
		ids = append(ids, f.ID)
	}
	if fmt.Sprint(ids) != "[1 24 47 70]" {
		t.Fatalf("ids %v, want [1 24 47 70]", ids)
	}
}

// TestRoundTripOddGeometry: page sizes, block sizes, name and metadata
// lengths other than the Arduino ones still build and read back.
func TestRoundTripOddGeometry(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	built := 0
	for i := 0; i < 80; i++ {
		P := 64 << r.IntN(4)
		B := P << (2 + r.IntN(4))
		p := Params{
			Size: B * (3 + r.IntN(12)), PageSize: P, BlockSize: B,
			ObjNameLen: 16 + r.IntN(17), MetaLen: r.IntN(5),
			UseMagic: r.IntN(4) != 0, UseMagicLength: r.IntN(2) == 0, AlignedObjIxTables: r.IntN(2) == 0,
		}
		g, err := p.geom()
		if err != nil {
			continue // e.g. no room for the header in 64-byte pages
		}
		var files []fstree.File
		for j := r.IntN(8); j >= 0; j-- {
			files = append(files, fstree.File{
				Path: fmt.Sprintf("/%d/%s", j, randName(r, 1+r.IntN(g.nameLen-5))),
				Data: stream(fmt.Sprint(i, j), r.IntN(g.E*g.D*2)),
			})
		}
		tr := mustTree(t, files)
		for {
			img, err := Build(tr, p)
			if errors.Is(err, ErrFull) && len(tr.Files) > 0 {
				tr.Files = tr.Files[:len(tr.Files)-1]
				continue
			}
			if err != nil {
				t.Fatalf("%+v: %v", p, err)
			}
			checkReadBack(t, img, p, tr)
			built++
			break
		}
	}
	if built < 40 {
		t.Fatalf("only %d geometries built", built)
	}
}
