package littlefs

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iotbench/iotbench/flasher/fstree"
)

// FuzzRead feeds random images to Detect, Read, Check and ReadFile: no
// panics, and no endless loops on cyclic metadata tails, directory
// structs or CTZ lists. With fix set, the CRCs of every commit are
// recomputed first, so mutations reach the tag decoding instead of being
// stopped by the CRC check.
func FuzzRead(f *testing.F) {
	ft := time.Unix(1700000000, 0)
	seed := func(p Params, files ...fstree.File) {
		tr, err := fstree.FromFiles(files)
		if err != nil {
			f.Fatal(err)
		}
		img, err := Build(tr, p, Options{FixedTime: &ft})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(img, false)
		f.Add(img, true)
	}
	seed(ESP8266Params(16*512, 512),
		fstree.File{Path: "/a", Data: []byte("inline")},
		fstree.File{Path: "/d/big", Data: bytes.Repeat([]byte("0123456789"), 150)},
		fstree.File{Path: "/d/e/empty"})
	seed(ESP8266Params(24*256, 256),
		fstree.File{Path: "/x", Data: bytes.Repeat([]byte{7}, 2000)},
		fstree.File{Path: "/y/z", Data: []byte("z")})
	seed(ESP8266Params(16*128, 128),
		fstree.File{Path: "/" + string(bytes.Repeat([]byte("n"), 31)), Data: []byte("q")},
		fstree.File{Path: "/m", Data: bytes.Repeat([]byte{1, 2, 3}, 300)})
	seed(ESP8266Params(4*1024, 1024))
	f.Add([]byte("littlefs"), false)
	if img, err := os.ReadFile(filepath.Join("testdata", "written-by-littlefs-32k.bin")); err == nil {
		f.Add(img, true)
	}

	f.Fuzz(func(t *testing.T, img []byte, fix bool) {
		if len(img) > 1<<20 {
			return
		}
		p, err := Detect(img)
		if err == nil && fix {
			img = bytes.Clone(img)
			fixCRCs(img, p.BlockSize)
		}
		if err == nil {
			exercise(t, img, p)
		}
		// Also without Detect, as a caller with a known layout would.
		if n := len(img) / 512 * 512; n >= 1024 {
			exercise(t, img, ESP8266Params(n, 512))
		}
	})
}

func exercise(t *testing.T, img []byte, p Params) {
	im, err := Read(img, p)
	if err != nil {
		return
	}
	_ = im.Check()
	for _, e := range im.Entries {
		if e.IsDir {
			continue
		}
		data, err := im.ReadFile(e.Path)
		if err == nil && len(data) != e.Size {
			t.Fatalf("%s: read %d bytes, listed as %d", e.Path, len(data), e.Size)
		}
	}
}
