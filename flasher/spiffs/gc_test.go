package spiffs

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/iotbench/iotbench/flasher/fstree"
)

// Test vectors for images full enough that SPIFFS' garbage collection
// runs while mkspiffs writes them (docs §3.8 left this untested).
//
// How the expected hashes were produced: the trees below (made-up
// content, stream()) were written to a folder and packed with mkspiffs
// built locally from igrr/mkspiffs 0.2.3-7-gf248296 with its SPIFFS
// submodule at 0.3.7-5-gf5e26c4, using exactly the build configurations
// of mkspiffs' build_all_configs.sh:
//
//	arduino-esp8266: CPPFLAGS="-DSPIFFS_USE_MAGIC_LENGTH=0 -DSPIFFS_ALIGNED_OBJECT_INDEX_TABLES=1"
//	arduino-esp32:   CPPFLAGS="-DSPIFFS_OBJ_META_LEN=4"
//
// and, for the GCMaxRuns 5 vector, mkspiffs 0.2.0 (7fefeac, its in-tree
// SPIFFS, SPIFFS_GC_MAX_RUNS 5) with the arduino-esp8266 flags. The only
// change to mkspiffs was to read each folder with scandir sorted by strcmp
// instead of raw readdir, so it adds files in fstree's order. Command:
// mkspiffs -c DIR -p 256 -b BLOCK -s SIZE OUT. Each image was checked to
// hold every file completely (mkspiffs ignores SPIFFS_close's result, so
// a failing last flush would go unnoticed), then normalised (Normalize)
// and hashed. In every one of them all blocks were erased again by
// garbage collection (non-zero erase counts), so the vectors cover it.
//
// Beyond these, a randomized differential run (several hundred trees,
// ESP8266 layouts from 32 KiB to 1000 KiB, ESP32 64 KiB to 1 MiB, both GC
// run limits; for every tree mkspiffs could not take, a bisection to the
// largest prefix it could) matched mkspiffs byte for byte, including
// where the content stops fitting.

func gcTree1() []fstree.File {
	return []fstree.File{
		{Path: "/big.bin", Data: stream("gc-big", 28000)},
		{Path: "/data/a.txt", Data: stream("gc-a", 4000)},
		{Path: "/data/empty", Data: nil},
		{Path: "/data/log.csv", Data: stream("gc-log", 7000)},
		{Path: "/z.bin", Data: stream("gc-z", 700)},
	}
}

// benchFiles is 60 files of mixed sizes (0 B to 40 KB, 576 KB in all) in
// four folders: the benchmark's input and a GC vector.
func benchFiles() []fstree.File {
	sizes := []int{0, 137, 1500, 4000, 12000, 40000}
	var files []fstree.File
	for i := 0; i < 60; i++ {
		files = append(files, fstree.File{
			Path: fmt.Sprintf("/d%d/f%02d.bin", i%4, i),
			Data: stream(fmt.Sprintf("bench-%d", i), sizes[i%6]+i),
		})
	}
	return files
}

func esp32Tree() []fstree.File {
	return []fstree.File{
		{Path: "/fw/blob.bin", Data: stream("e32-blob", 80000)},
		{Path: "/www/app.js", Data: stream("e32-js", 25000)},
		{Path: "/www/index.html", Data: stream("e32-html", 3000)},
		{Path: "/cfg.json", Data: stream("e32-cfg", 400)},
		{Path: "/log/empty.txt", Data: nil},
		{Path: "/log/boot.txt", Data: stream("e32-boot", 40000)},
	}
}

func TestGCVectors(t *testing.T) {
	runs5 := ESP8266Params(0x10000, 4096)
	runs5.GCMaxRuns = 5
	for _, v := range []struct {
		name  string
		p     Params
		files []fstree.File
		want  string // sha256 of the normalised mkspiffs image
	}{
		{"1m64", ESP8266Params(0x10000, 4096), gcTree1(), "28899ed376063c657cc5689c4c98caf46ffd2a55b98bbecc8dab765f6d79e3be"},
		{"1m64-gcruns5", runs5, gcTree1(), "9bacf2a726a5731ad8a82770fa1053db2f57db3ed6a0955a274505de1e84afe8"},
		{"4m1m-60files", ESP8266Params(0xFA000, 8192), benchFiles(), "5c30850c376d1348ac7aa38a0dd60e5ff3df2da71dcde745c0f1e6e45e134080"},
		{"esp32-256k", ESP32Params(0x40000), esp32Tree(), "d506d47f7f1e36c49d2dbe9ecb5da914cb34ef0db0198de44cfc031fd17147cc"},
	} {
		t.Run(v.name, func(t *testing.T) {
			tr := mustTree(t, v.files)
			img := mustBuild(t, tr, v.p)
			if got := sha(img); got != v.want {
				t.Fatalf("sha256 %s, mkspiffs gives %s", got, v.want)
			}
			g, _ := v.p.geom()
			erased := 0
			for b := 0; b < g.N; b++ {
				if le16(img[b*g.B+g.eraseOff:]) != 0 {
					erased++
				}
			}
			if erased == 0 {
				t.Fatal("no block was erased by garbage collection: the vector does not exercise it")
			}
			checkReadBack(t, img, v.p, tr)
		})
	}
}

// checkReadBack reads img and expects exactly tr's files, no problems.
func checkReadBack(t testing.TB, img []byte, p Params, tr *fstree.Tree) {
	t.Helper()
	im, err := Read(img, p)
	if err != nil {
		t.Fatal(err)
	}
	if probs := im.Check(); len(probs) != 0 {
		t.Fatalf("Check: %v", probs)
	}
	if len(im.Files) != len(tr.Files) {
		t.Fatalf("read %d files, built %d", len(im.Files), len(tr.Files))
	}
	byName := map[string]FileInfo{}
	for _, f := range im.Files {
		byName[f.Path] = f
	}
	for _, f := range tr.Files {
		info, ok := byName[f.Path]
		if !ok {
			t.Fatalf("%s missing from the image", f.Path)
		}
		if info.Size != len(f.Data) {
			t.Fatalf("%s: size %d, want %d", f.Path, info.Size, len(f.Data))
		}
		data, err := im.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, f.Data) {
			t.Fatalf("%s: content differs", f.Path)
		}
	}
}

// TestCapacity: the largest single file a 1M64 image takes, measured
// with mkspiffs 0.2.3-7 (arduino-esp8266, as above; "takes" = the file
// reads back whole), is 45819 bytes; one byte more does not fit. Likewise
// 93184 bytes for a 128 KiB ESP32 image.
func TestCapacity(t *testing.T) {
	for _, c := range []struct {
		name string
		p    Params
		max  int
	}{
		{"1m64", ESP8266Params(0x10000, 4096), 45819},
		{"esp32-128k", ESP32Params(0x20000), 93184},
	} {
		t.Run(c.name, func(t *testing.T) {
			one := func(n int) *fstree.Tree {
				return mustTree(t, []fstree.File{{Path: "/fill.bin", Data: stream("capacity", n)}})
			}
			tr := one(c.max)
			img, err := Build(tr, c.p)
			if err != nil {
				t.Fatalf("%d bytes: %v", c.max, err)
			}
			checkReadBack(t, img, c.p, tr)
			_, err = Build(one(c.max+1), c.p)
			if !errors.Is(err, ErrFull) {
				t.Fatalf("%d bytes: err = %v, want ErrFull", c.max+1, err)
			}
			if !strings.Contains(err.Error(), "use a bigger FS layout or remove files") {
				t.Errorf("error does not say what to do: %v", err)
			}
		})
	}
}

// TestGCMaxRunsMatters documents why Params.GCMaxRuns exists: the same
// tree gives different images with 5 and 10 rounds.
func TestGCMaxRunsMatters(t *testing.T) {
	tr := mustTree(t, gcTree1())
	p := ESP8266Params(0x10000, 4096)
	a := mustBuild(t, tr, p)
	p.GCMaxRuns = 5
	b := mustBuild(t, tr, p)
	if bytes.Equal(a, b) {
		t.Fatal("GCMaxRuns 5 and 10 give the same image for this tree")
	}
}
