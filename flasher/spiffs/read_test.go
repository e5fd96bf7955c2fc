package spiffs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/iotbench/iotbench/flasher/fstree"
)

func smallImage(t *testing.T) ([]byte, Params, *fstree.Tree) {
	t.Helper()
	p := ESP8266Params(0x10000, 4096)
	tr := mustTree(t, []fstree.File{
		{Path: "/big.bin", Data: stream("read-big", 30000)}, // 120 data pages: two index pages
		{Path: "/cfg/a.json", Data: stream("read-a", 600)},
		{Path: "/empty", Data: nil},
	})
	return mustBuild(t, tr, p), p, tr
}

func hasProblem(probs []Problem, page int, text string) bool {
	for _, pr := range probs {
		if pr.Page == page && strings.Contains(pr.What, text) {
			return true
		}
	}
	return false
}

// TestCheckCorruption damages one thing at a time; Check must name the
// page and what is wrong, and reading the damaged file must fail.
func TestCheckCorruption(t *testing.T) {
	clean, p, _ := smallImage(t)
	im, err := Read(clean, p)
	if err != nil || len(im.Check()) != 0 {
		t.Fatalf("clean image: %v %v", im.Check(), err)
	}
	var big, small FileInfo
	for _, f := range im.Files {
		switch f.Path {
		case "/big.bin":
			big = f
		case "/cfg/a.json":
			small = f
		}
	}
	if len(big.IndexPages) != 1 || len(small.Pages) != 3 {
		t.Fatalf("unexpected layout: %+v", im.Files)
	}
	g, _ := p.geom()
	luAddr := func(pix int) int { return g.blockOf(pix)*g.B + 2*g.entryOf(pix) }
	for _, c := range []struct {
		name    string
		damage  func(img []byte)
		page    int
		text    string
		damaged string // file that must not read
	}{
		{"data page header", func(img []byte) { img[small.Pages[1]*g.P] ^= 0x40 },
			small.Pages[1], "page header says object", "/cfg/a.json"},
		{"data page deleted", func(img []byte) { img[small.Pages[0]*g.P+4] = flagsDeleted },
			small.Pages[0], "marked deleted", "/cfg/a.json"},
		{"lookup entry freed", func(img []byte) { img[luAddr(big.Pages[7])], img[luAddr(big.Pages[7])+1] = 0xFF, 0xFF },
			big.Pages[7], "says free but the page holds data", "/big.bin"},
		{"index entry", func(img []byte) { put16(img[big.Header*g.P+g.hdrLen+2*3:], uint16(big.Pages[4])) },
			big.Header, "span 3 points to page", "/big.bin"},
		{"index entry to lookup page", func(img []byte) { put16(img[big.Header*g.P+g.hdrLen+2*3:], uint16(g.ppb)) },
			big.Header, "bad index entry for span 3", "/big.bin"},
		{"missing index page", func(img []byte) { img[big.IndexPages[0]*g.P+2] = 9 },
			big.Header, "index page 1", "/big.bin"},
		{"size too big", func(img []byte) { put32(img[small.Header*g.P+8:], 900) },
			small.Header, "no data page for span 3", "/cfg/a.json"},
		{"never finalized", func(img []byte) { img[small.Pages[0]*g.P+4] |= flagFinal },
			small.Pages[0], "never finalized", "/cfg/a.json"},
		{"magic", func(img []byte) { img[3*g.B+g.magicOff] ^= 1 },
			3 * g.ppb, "magic", ""},
		{"name not terminated", func(img []byte) {
			copy(img[small.Header*g.P+g.nameOff:], strings.Repeat("x", g.nameLen))
		}, small.Header, "not NUL-terminated", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := append([]byte(nil), clean...)
			c.damage(img)
			im, err := Read(img, p)
			if err != nil {
				t.Fatal(err)
			}
			probs := im.Check()
			if len(probs) == 0 {
				t.Fatal("Check reports nothing")
			}
			if c.text != "" && !hasProblem(probs, c.page, c.text) {
				t.Fatalf("no problem at page %d mentioning %q: %v", c.page, c.text, probs)
			}
			if c.damaged != "" {
				if _, err := im.ReadFile(c.damaged); err == nil {
					t.Fatalf("%s reads despite the damage", c.damaged)
				}
			}
			for _, f := range im.Files {
				if f.Path == "/empty" {
					if d, err := im.ReadFile("/empty"); err != nil || len(d) != 0 {
						t.Fatalf("undamaged /empty: %q %v", d, err)
					}
				}
			}
		})
	}
}

func TestOrphanPage(t *testing.T) {
	img, p, _ := smallImage(t)
	g, _ := p.geom()
	// Hand-write a live data page of object 9 into a free page.
	im, _ := Read(img, p)
	free := -1
	for pix := g.pages - 1; pix >= 0; pix-- {
		if !g.isLookup(pix) && le16(img[g.blockOf(pix)*g.B+2*g.entryOf(pix):]) == idFree {
			free = pix
			break
		}
	}
	put16(img[g.blockOf(free)*g.B+2*g.entryOf(free):], 9)
	pg := img[free*g.P:]
	put16(pg, 9)
	put16(pg[2:], 0)
	pg[4] = flagsData
	im, _ = Read(img, p)
	if !hasProblem(im.Check(), free, "orphan data page of object 0x0009") {
		t.Fatalf("orphan not reported: %v", im.Check())
	}
}

func TestReadErrors(t *testing.T) {
	img, p, _ := smallImage(t)
	if _, err := Read(img[:len(img)-1], p); err == nil {
		t.Fatal("short image accepted")
	}
	if _, err := Read(img, Params{}); err == nil {
		t.Fatal("zero params accepted")
	}
	im, err := Read(img, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := im.ReadFile("/nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadFile(/nope) = %v", err)
	}
	if _, err := Normalize(img[:100], p); err == nil {
		t.Fatal("Normalize accepted a short image")
	}
}

// TestExtractUnsafeNames: names from an image never lead outside the
// target folder.
func TestExtractUnsafeNames(t *testing.T) {
	p := ESP8266Params(0x10000, 4096)
	bad := []string{"/../evil", "/a/../../evil", "//abs", "/a//b", "/./x", "/a/..", "/c:x", "/a\\..\\x", "/tab\tname", "/ok/"}
	files := []fstree.File{{Path: "/good/file.txt", Data: []byte("fine")}, {Path: "/link/inside", Data: []byte("no")}}
	for _, b := range bad {
		files = append(files, fstree.File{Path: b, Data: []byte("bad")})
	}
	img := mustBuild(t, &fstree.Tree{Files: files}, p) // SPIFFS stores any name
	im, err := Read(img, p)
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	out := filepath.Join(base, "out")
	outside := filepath.Join(base, "outside")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	// A symbolic link already in the target must not be followed out.
	if err := os.Symlink(outside, filepath.Join(out, "link")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	err = im.Extract(out)
	if err == nil {
		t.Fatal("Extract accepted unsafe names")
	}
	for _, b := range bad {
		if !strings.Contains(err.Error(), strconv.Quote(b)) {
			t.Errorf("error does not mention %q: %v", b, err)
		}
	}
	if got, err := os.ReadFile(filepath.Join(out, "good", "file.txt")); err != nil || string(got) != "fine" {
		t.Fatalf("good file: %q %v", got, err)
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 0 {
		t.Fatalf("something was written outside: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(base, "evil")); err == nil {
		t.Fatal("../evil was written")
	}
}

// TestDetect finds the parameters of images built with each layout kind.
func TestDetect(t *testing.T) {
	tr := mustTree(t, []fstree.File{{Path: "/a.txt", Data: stream("detect", 3000)}, {Path: "/b/c", Data: []byte("c")}})
	generic := Params{Size: 0x20000, PageSize: 256, BlockSize: 4096, ObjNameLen: 32, UseMagic: true, UseMagicLength: true, GCMaxRuns: 10}
	big := ESP8266Params(0x20000, 8192)
	big.PageSize = 512
	for _, p := range []Params{
		ESP8266Params(0x10000, 4096), ESP8266Params(0xFA000, 8192), ESP8266Params(0x20000, 8192),
		ESP32Params(0x20000), generic, big,
	} {
		img := mustBuild(t, tr, p)
		got, err := Detect(img)
		if err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		if got != p {
			t.Errorf("Detect = %+v\nwant       %+v", got, p)
		}
	}
	// Empty images: the magic kind decides.
	for _, p := range []Params{ESP8266Params(0x10000, 4096), ESP32Params(0x10000)} {
		got, err := Detect(mustBuild(t, nil, p))
		if err != nil || got != p {
			t.Errorf("empty: Detect = %+v, %v; want %+v", got, err, p)
		}
	}
	if _, err := Detect(make([]byte, 0x10000)); err == nil {
		t.Error("zeros detected as SPIFFS")
	}
	if _, err := Detect(nil); err == nil {
		t.Error("nil detected as SPIFFS")
	}
}

func TestESP32Layout(t *testing.T) {
	// docs §4: 49-byte header, table at the odd offset 49, meta FF FF FF FF,
	// magic depends on the block.
	p := ESP32Params(0x10000)
	tr := mustTree(t, []fstree.File{{Path: "/x", Data: stream("e32", 600)}})
	img := mustBuild(t, tr, p)
	im, _ := Read(img, p)
	h := img[im.Files[0].Header*256:]
	if string(h[45:49]) != "\xff\xff\xff\xff" {
		t.Errorf("meta bytes % x", h[45:49])
	}
	if int(le16(h[49:])) != im.Files[0].Pages[0] {
		t.Errorf("first table entry %d, want %d", le16(h[49:]), im.Files[0].Pages[0])
	}
	if m0, m1 := le16(img[252:]), le16(img[4096+252:]); m0 == m1 || m0 != uint16((0x20140529^256^16)&0xFFFF) {
		t.Errorf("magics %#04x %#04x", m0, m1)
	}
	checkReadBack(t, img, p, tr)
}

// TestDuplicateNames: a damaged image can hold a name twice; Check says
// so, ReadFile and Extract take the first.
func TestDuplicateNames(t *testing.T) {
	p := ESP8266Params(0x10000, 4096)
	img := mustBuild(t, &fstree.Tree{Files: []fstree.File{
		{Path: "/a", Data: []byte("first")}, {Path: "/b", Data: []byte("second")},
	}}, p)
	im, _ := Read(img, p)
	g, _ := p.geom()
	img[im.Files[1].Header*g.P+g.nameOff+1] = 'a' // "/b" becomes "/a"
	im, _ = Read(img, p)
	if !hasProblem(im.Check(), im.Files[1].Header, "a second file with this name") {
		t.Fatalf("duplicate not reported: %v", im.Check())
	}
	if d, err := im.ReadFile("/a"); err != nil || string(d) != "first" {
		t.Fatalf("ReadFile(/a) = %q, %v", d, err)
	}
	dir := t.TempDir()
	if err := im.Extract(dir); err == nil || !strings.Contains(err.Error(), "a second file of that name") {
		t.Fatalf("Extract: %v", err)
	}
	if d, _ := os.ReadFile(filepath.Join(dir, "a")); string(d) != "first" {
		t.Fatalf("extracted /a = %q", d)
	}
}
