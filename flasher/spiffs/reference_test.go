package spiffs

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/iotbench/iotbench/flasher/fstree"
)

// The reference images of shared/testdata/fs and the facts MANIFEST.txt
// (sections 2.1 and 2.2) states about them.
type refObject struct {
	path   string
	id     uint16
	size   int
	header int
	data   []int
}

type refImage struct {
	file       string
	size       int
	block      int
	rawSHA     string
	normSHA    string
	headerOffs []int // object-index header pages, live and deleted (byte offsets)
	objects    []refObject
	deleted    int
}

var refImages = []refImage{
	{
		file: "spiffs-4m1m.bin", size: 0xFA000, block: 8192,
		rawSHA:  "d55a63d3b5c24cb4cbd89cbe2c1ad6f6766ffe150aa113ae7e677fc626ccc7de",
		normSHA: "a3bb60ea8ce997cccd35e157eaefea487638edbf0f29809c01f10d8687fc91ad",
		headerOffs: []int{0x100, 0x500, 0x700, 0x800, 0x900, 0xd00, 0xf00, 0x1000, 0x1100, 0x1400,
			0x1500, 0x1700, 0x1b00, 0x1d00, 0x1f00, 0x2100, 0x2200},
		objects: []refObject{
			{"/ca.der", 1, 841, 8, []int{2, 3, 4, 6}},
			{"/cert.der", 2, 903, 16, []int{10, 11, 12, 14}},
			{"/config.json", 3, 333, 20, []int{18, 19}},
			{"/long_name_max_len_file_30c.txt", 4, 50, 21, []int{22}},
			{"/private.der", 5, 1217, 33, []int{24, 25, 26, 28, 30}},
			{"/www/index.html", 6, 109, 34, []int{35}},
		},
		deleted: 11,
	},
	{
		file: "spiffs-1m64.bin", size: 0x10000, block: 4096,
		rawSHA:  "e6563bdaf623f5d5d8267436c5c12fa7c7af7c82fd77980d17d1cae9c7a8af5b",
		normSHA: "427f93e71a1d15092e48d4c05a1bacea1cfc21e6115f85d6f624417a1f22c6e2",
		headerOffs: []int{0x100, 0x500, 0x700, 0x800, 0x900, 0xd00, 0xf00, 0x1100, 0x1200, 0x1500,
			0x1600, 0x1800, 0x1c00, 0x1e00, 0x2100, 0x2200, 0x2300},
		objects: []refObject{
			{"/ca.der", 1, 841, 8, []int{2, 3, 4, 6}},
			{"/cert.der", 2, 903, 17, []int{10, 11, 12, 14}},
			{"/config.json", 3, 333, 21, []int{19, 20}},
			{"/long_name_max_len_file_30c.txt", 4, 50, 22, []int{23}},
			{"/private.der", 5, 1217, 34, []int{25, 26, 27, 29, 31}},
			{"/www/index.html", 6, 109, 35, []int{36}},
		},
		deleted: 11,
	},
}

func loadRef(t *testing.T, r refImage) (img []byte, p Params, input string) {
	t.Helper()
	dir := sharedFS(t)
	img, err := os.ReadFile(filepath.Join(dir, r.file))
	if err != nil {
		t.Fatal(err)
	}
	if got := sha(img); got != r.rawSHA {
		t.Fatalf("%s: sha256 %s, MANIFEST.txt says %s: the reference image changed", r.file, got, r.rawSHA)
	}
	return img, ESP8266Params(r.size, r.block), filepath.Join(dir, "input")
}

// TestBuildReference rebuilds both reference images from
// shared/testdata/fs/input: the normalised bytes must be equal.
func TestBuildReference(t *testing.T) {
	for _, r := range refImages {
		t.Run(r.file, func(t *testing.T) {
			ref, p, input := loadRef(t, r)
			want := mustNormalize(t, ref, p)
			if got := sha(want); got != r.normSHA {
				t.Fatalf("Normalize gives sha256 %s, MANIFEST.txt says %s", got, r.normSHA)
			}
			tr, err := fstree.FromDir(input)
			if err != nil {
				t.Fatal(err)
			}
			img := mustBuild(t, tr, p)
			compareImages(t, img, want, p)
			if !bytes.Equal(mustNormalize(t, img, p), img) {
				t.Error("Build output changes under Normalize: the undefined bytes should already be 0xFF")
			}
		})
	}
}

// TestReadReference lists, extracts and checks both reference images.
func TestReadReference(t *testing.T) {
	for _, r := range refImages {
		t.Run(r.file, func(t *testing.T) {
			img, p, input := loadRef(t, r)
			im, err := Read(img, p)
			if err != nil {
				t.Fatal(err)
			}
			if probs := im.Check(); len(probs) != 0 {
				t.Fatalf("Check reports problems in an mkspiffs image: %v", probs)
			}
			if len(im.Files) != len(r.objects) {
				t.Fatalf("%d files, want %d: %+v", len(im.Files), len(r.objects), im.Files)
			}
			for i, o := range r.objects {
				f := im.Files[i]
				if f.Path != o.path || f.ID != o.id || f.Size != o.size || f.Header != o.header ||
					!slices.Equal(f.Pages, o.data) || len(f.IndexPages) != 0 {
					t.Errorf("file %d = %+v, want %+v", i, f, o)
				}
			}
			// Page-level facts: every index header page, live or deleted,
			// and the number of deleted pages.
			g, _ := p.geom()
			var hdrs []int
			deleted := 0
			for pix := 0; pix < g.pages; pix++ {
				if g.isLookup(pix) {
					continue
				}
				pg := img[pix*g.P:]
				if id := le16(pg); id != idFree && id&ixFlag != 0 && le16(pg[2:]) == 0 {
					hdrs = append(hdrs, pix*g.P)
				}
				if le16(img[g.blockOf(pix)*g.B+2*g.entryOf(pix):]) == idDeleted {
					deleted++
					if pg[4] != flagsDeleted {
						t.Errorf("deleted page %d has flags %#02x, want 0x7e", pix, pg[4])
					}
				}
			}
			if !slices.Equal(hdrs, r.headerOffs) {
				t.Errorf("index header pages at % #x, want % #x", hdrs, r.headerOffs)
			}
			if deleted != r.deleted {
				t.Errorf("%d deleted pages, want %d", deleted, r.deleted)
			}
			// Extract equals the input byte for byte.
			out := t.TempDir()
			if err := im.Extract(out); err != nil {
				t.Fatal(err)
			}
			tr, err := fstree.FromDir(input)
			if err != nil {
				t.Fatal(err)
			}
			got, err := fstree.FromDir(out)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Files) != len(tr.Files) {
				t.Fatalf("extracted %d files, want %d", len(got.Files), len(tr.Files))
			}
			for i, f := range tr.Files {
				if got.Files[i].Path != f.Path || !bytes.Equal(got.Files[i].Data, f.Data) {
					t.Errorf("extracted %s (%d bytes), want %s (%d bytes) with the input's content",
						got.Files[i].Path, len(got.Files[i].Data), f.Path, len(f.Data))
				}
				data, err := im.ReadFile(f.Path)
				if err != nil || !bytes.Equal(data, f.Data) {
					t.Errorf("ReadFile(%s) = %d bytes, %v", f.Path, len(data), err)
				}
			}
			// Detect finds the parameters on its own.
			dp, err := Detect(img)
			if err != nil {
				t.Fatal(err)
			}
			if dp != p {
				t.Errorf("Detect = %+v, want %+v", dp, p)
			}
		})
	}
}
