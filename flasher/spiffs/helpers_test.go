package spiffs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/iotbench/iotbench/internal/shareddata"
	"testing"

	"github.com/iotbench/iotbench/flasher/fstree"
)

// sharedFS finds shared/testdata/fs by walking up from the package
// directory (CI clones the repository with shared/ beside it: …/main and
// …/shared). Not finding it is a failure, not a skip: the reference
// images are what this package is tested against.
func sharedFS(t testing.TB) string {
	t.Helper()
	dir, err := shareddata.Dir("fs")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// stream is made-up content: the concatenation of sha256("<seed>:<i>")
// for i = 0, 1, 2, … truncated to n bytes (the scheme MANIFEST.txt uses
// for its .der blobs).
func stream(seed string, n int) []byte {
	out := make([]byte, 0, n+32)
	for i := 0; len(out) < n; i++ {
		h := sha256.Sum256([]byte(fmt.Sprintf("%s:%d", seed, i)))
		out = append(out, h[:]...)
	}
	return out[:n]
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func mustTree(t testing.TB, files []fstree.File) *fstree.Tree {
	t.Helper()
	tr, err := fstree.FromFiles(files)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func mustBuild(t testing.TB, tr *fstree.Tree, p Params) []byte {
	t.Helper()
	img, err := Build(tr, p)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func mustNormalize(t testing.TB, img []byte, p Params) []byte {
	t.Helper()
	n, err := Normalize(img, p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// describePage says what a page holds, for mismatch reports.
func describePage(img []byte, p Params, pix int) string {
	g, err := p.geom()
	if err != nil || (pix+1)*g.P > len(img) {
		return "?"
	}
	if g.isLookup(pix) {
		b := g.blockOf(pix)
		blk := img[b*g.B:]
		return fmt.Sprintf("lookup page of block %d (entries % x…, magic %#04x, erase count %d)",
			b, blk[:min(16, 2*g.E)], le16(blk[g.magicOff:]), le16(blk[g.eraseOff:]))
	}
	pg := img[pix*g.P : (pix+1)*g.P]
	id, span, flags := le16(pg), le16(pg[2:]), pg[4]
	lu := le16(img[g.blockOf(pix)*g.B+2*g.entryOf(pix):])
	switch {
	case id == idFree && lu == idFree:
		return "free page"
	case id&ixFlag != 0 && span == 0:
		return fmt.Sprintf("index header of object %d (lookup %#04x, flags %#02x, size %d, name %q)",
			id&^ixFlag, lu, flags, int32(le32(pg[8:])), pg[g.nameOff:g.nameOff+g.nameLen])
	case id&ixFlag != 0:
		return fmt.Sprintf("index page span %d of object %d (lookup %#04x, flags %#02x)", span, id&^ixFlag, lu, flags)
	default:
		return fmt.Sprintf("data page span %d of object %d (lookup %#04x, flags %#02x)", span, id, lu, flags)
	}
}

// compareImages fails with the first differing page, saying what each
// side holds there.
func compareImages(t testing.TB, got, want []byte, p Params) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("image is %d bytes, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			pix := i / p.PageSize
			t.Fatalf("first difference at byte %#x (page %d, offset %d in the page): got %#02x, want %#02x\n got page: %s\nwant page: %s",
				i, pix, i%p.PageSize, got[i], want[i], describePage(got, p, pix), describePage(want, p, pix))
		}
	}
}
