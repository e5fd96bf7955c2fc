package spiffs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/iotbench/iotbench/flasher/fstree"
)

// maxRawImage bounds the raw images FuzzRead makes from its input.
const maxRawImage = 2 << 10

// fuzzParams derives valid-looking (not always valid) parameters from
// the fuzzer's choice bytes and cuts or pads img to a whole number of
// blocks (at least 3).
func fuzzParams(img []byte, pageSel, blockSel, cfg uint8) ([]byte, Params) {
	P := 64 << (pageSel % 4) // 64 … 512
	B := P << (1 + blockSel%5)
	p := Params{
		PageSize: P, BlockSize: B,
		ObjNameLen:         []int{32, 2, 8, 64}[cfg%4],
		MetaLen:            []int{0, 4, 1, 0}[(cfg>>2)%4],
		UseMagic:           cfg&0x10 == 0,
		UseMagicLength:     cfg&0x20 != 0,
		AlignedObjIxTables: cfg&0x40 != 0,
	}
	size := max(len(img)/B*B, 3*B)
	out := make([]byte, size)
	n := copy(out, img)
	for i := n; i < size; i++ {
		out[i] = 0xFF
	}
	p.Size = size
	return out, p
}

type fuzzBase struct {
	img []byte
	p   Params
}

// fuzzBases are the valid images FuzzRead damages: the 1M64 reference,
// garbage-collected ESP8266 and ESP32 images, and small-page images with
// many index pages.
func fuzzBases(f *testing.F) []fuzzBase {
	var bases []fuzzBase
	if ref, err := os.ReadFile(filepath.Join(sharedFS(f), "spiffs-1m64.bin")); err == nil {
		bases = append(bases, fuzzBase{ref, ESP8266Params(0x10000, 4096)})
	}
	add := func(files []fstree.File, p Params) {
		img, err := Build(mustTree(f, files), p)
		if err != nil {
			f.Fatal(err)
		}
		bases = append(bases, fuzzBase{img, p})
	}
	add(gcTree1(), ESP8266Params(0x10000, 4096))
	add(esp32Tree()[2:], ESP32Params(0x20000))
	tiny := ESP8266Params(8*512, 512)
	tiny.PageSize = 64
	add([]fstree.File{{Path: "/a", Data: stream("fz-a", 700)}, {Path: "/e"}, {Path: "/d/x", Data: []byte("x")}}, tiny)
	tiny32 := ESP32Params(8 * 512)
	tiny32.PageSize, tiny32.BlockSize = 64, 512
	add([]fstree.File{{Path: "/big", Data: stream("fz-big", 900)}}, tiny32)
	return bases
}

// FuzzRead feeds damaged and random images, with the right or random
// (valid and invalid) parameters, to Read, Check, ReadFile, Normalize and
// Detect: nothing may panic, and what they return must be consistent.
//
// The input stays small on purpose: Go's fuzzer minimizes every input
// that finds new coverage, which takes minutes for inputs of a few KB. So
// mode picks a valid base image and data patches it (4 bytes per patch:
// 24-bit offset, value), or, for the last mode, data is a raw image.
func FuzzRead(f *testing.F) {
	bases := fuzzBases(f)
	for i := range bases {
		f.Add(uint8(i), uint8(0), uint8(0), uint8(0), []byte{})
		f.Add(uint8(i), uint8(0), uint8(0), uint8(0), []byte{0x04, 0x01, 0, 0x7E, 0x00, 0x10, 0, 0xFF}) // flags of page 1, a lookup entry
		f.Add(uint8(i), uint8(0), uint8(0), uint8(0), []byte{0x08, 0x08, 0, 0x10, 0x30, 0x08, 0, 0x00}) // sizes, table entries
	}
	f.Add(uint8(len(bases)), uint8(0), uint8(3), uint8(0), bases[len(bases)-2].img[:1024])
	f.Add(uint8(len(bases)), uint8(2), uint8(3), uint8(0x40), []byte{})

	f.Fuzz(func(t *testing.T, mode, pageSel, blockSel, cfg uint8, data []byte) {
		var img []byte
		var p Params
		if b := int(mode) % (len(bases) + 1); b < len(bases) {
			img = append([]byte(nil), bases[b].img...)
			for ; len(data) >= 4; data = data[4:] {
				off := int(data[0]) | int(data[1])<<8 | int(data[2])<<16
				img[off%len(img)] = data[3]
			}
			p = bases[b].p
			if cfg&0x80 != 0 {
				img, p = fuzzParams(img, pageSel, blockSel, cfg)
			}
		} else {
			if len(data) > maxRawImage {
				data = data[:maxRawImage]
			}
			img, p = fuzzParams(data, pageSel, blockSel, cfg)
		}
		im, err := Read(img, p)
		if err != nil {
			if _, gerr := p.geom(); gerr == nil {
				t.Fatalf("Read refused valid params: %v", err)
			}
			return
		}
		_ = im.Check()
		for _, fi := range im.Files {
			_, _ = im.ReadFile(fi.Path) // the first file of that name
			data, err := im.content(&fi)
			if err == nil && len(data) != fi.Size {
				t.Fatalf("%q: %d bytes read, size says %d", fi.Path, len(data), fi.Size)
			}
			if rel, err := localName(fi.Path); err == nil && !filepath.IsLocal(filepath.FromSlash(rel)) {
				t.Fatalf("%q accepted as %q, which is not local", fi.Path, rel)
			}
		}
		if _, err := Normalize(img, p); err != nil {
			t.Fatal(err)
		}
		if dp, err := Detect(img); err == nil {
			if _, err := Read(img, dp); err != nil {
				t.Fatalf("Detect gave params Read refuses: %+v: %v", dp, err)
			}
		}
	})
}
