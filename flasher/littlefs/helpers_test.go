package littlefs

import (
	"bytes"
	"fmt"
	"github.com/iotbench/iotbench/internal/shareddata"
	"math/rand"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/iotbench/iotbench/flasher/fstree"
)

// sharedFS finds shared/testdata/fs by walking up from the package
// directory (CI clones the repository with shared/ beside it).
func sharedFS(t testing.TB) string {
	t.Helper()
	dir, err := shareddata.Dir("fs")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// want is the expected content of one entry.
type want struct {
	isDir bool
	data  []byte
}

func treeWant(tr *fstree.Tree) map[string]want {
	m := map[string]want{}
	for _, d := range tr.Dirs {
		m[d] = want{isDir: true}
	}
	for _, f := range tr.Files {
		m[f.Path] = want{data: f.Data}
		for d := path.Dir(f.Path); d != "/"; d = path.Dir(d) {
			m[d] = want{isDir: true}
		}
	}
	return m
}

// checkContent compares an image with the expected entries, reading every
// file back, and checks the listing order (depth-first, names sorted).
func checkContent(t testing.TB, im *Image, exp map[string]want) {
	t.Helper()
	got := map[string]bool{}
	for i, e := range im.Entries {
		if got[e.Path] {
			t.Errorf("%s listed twice", e.Path)
		}
		got[e.Path] = true
		w, ok := exp[e.Path]
		if !ok {
			t.Errorf("unexpected entry %s", e.Path)
			continue
		}
		if e.IsDir != w.isDir {
			t.Errorf("%s: IsDir %v, want %v", e.Path, e.IsDir, w.isDir)
			continue
		}
		if parent := path.Dir(e.Path); parent != "/" && !got[parent] {
			t.Errorf("%s listed before its directory", e.Path)
		}
		if i > 0 {
			prev := im.Entries[i-1].Path
			if path.Dir(prev) == path.Dir(e.Path) && path.Base(prev) >= path.Base(e.Path) {
				t.Errorf("%s listed after %s", e.Path, prev)
			}
		}
		if e.IsDir {
			continue
		}
		if e.Size != len(w.data) {
			t.Errorf("%s: size %d, want %d", e.Path, e.Size, len(w.data))
		}
		data, err := im.ReadFile(e.Path)
		if err != nil {
			t.Errorf("ReadFile: %v", err)
		} else if !bytes.Equal(data, w.data) {
			t.Errorf("%s: content differs (%d bytes read, %d expected)", e.Path, len(data), len(w.data))
		}
	}
	for p := range exp {
		if !got[p] {
			t.Errorf("%s missing from the image", p)
		}
	}
}

func checkClean(t testing.TB, im *Image) {
	t.Helper()
	for _, p := range im.Check() {
		t.Errorf("Check: %s", p)
	}
}

// checkExtracted compares an extracted folder with the expected entries.
func checkExtracted(t testing.TB, dir string, exp map[string]want) {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		ip := "/" + filepath.ToSlash(rel)
		seen[ip] = true
		w, ok := exp[ip]
		switch {
		case !ok:
			t.Errorf("extracted extra %s", ip)
		case d.IsDir() != w.isDir:
			t.Errorf("extracted %s: dir %v, want %v", ip, d.IsDir(), w.isDir)
		case !d.IsDir():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if !bytes.Equal(data, w.data) {
				t.Errorf("extracted %s differs", ip)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range exp {
		if !seen[p] {
			t.Errorf("%s not extracted", p)
		}
	}
}

const nameChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-~+ "

var utf8Bits = []string{"é", "ß", "中", "😀", "Ω"}

// randomName makes a valid name of 1..maxLen bytes (often exactly maxLen),
// sometimes with multi-byte UTF-8.
func randomName(rng *rand.Rand, maxLen int) string {
	n := 1 + rng.Intn(12)
	switch rng.Intn(6) {
	case 0:
		n = maxLen
	case 1:
		n = 1 + rng.Intn(maxLen)
	}
	var b strings.Builder
	for b.Len() < n {
		if rng.Intn(8) == 0 {
			s := utf8Bits[rng.Intn(len(utf8Bits))]
			if b.Len()+len(s) <= n {
				b.WriteString(s)
				continue
			}
		}
		b.WriteByte(nameChars[rng.Intn(len(nameChars))])
	}
	name := b.String()
	if name == "." || name == ".." {
		name = "x" + name[1:]
	}
	return name
}

func randomData(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	rng.Read(b)
	return b
}

// randomSize favours the interesting boundaries: empty, inline, just over
// the inline limit, block multiples, multi-block.
func randomSize(rng *rand.Rand, p Params) int {
	bs := p.BlockSize
	switch rng.Intn(8) {
	case 0:
		return 0
	case 1:
		return 1 + rng.Intn(p.inlineMax())
	case 2:
		return p.inlineMax() + rng.Intn(3)
	case 3:
		return bs*(1+rng.Intn(3)) - 8 + rng.Intn(17)
	case 4:
		return rng.Intn(4 * bs)
	case 5:
		return rng.Intn(12 * bs)
	default:
		return rng.Intn(bs)
	}
}

// randomTree makes a tree of nested folders (some empty) and files that
// fits p; with full set, one more file fills the image to the last block.
func randomTree(rng *rand.Rand, p Params, full bool) *fstree.Tree {
	budget := p.Size / 3
	dirs := []string{"/"}
	taken := map[string]bool{"/": true}
	var files []fstree.File
	unique := func(dir string) string {
		for {
			c := path.Join(dir, randomName(rng, p.usableName()))
			if !taken[c] {
				taken[c] = true
				return c
			}
		}
	}
	nDirs := rng.Intn(min(8, p.blockCount()/4))
	for i := 0; i < nDirs; i++ {
		parent := dirs[rng.Intn(len(dirs))]
		if strings.Count(parent, "/") > 4 {
			continue
		}
		dirs = append(dirs, unique(parent))
	}
	nFiles := rng.Intn(40)
	used := 0
	for i := 0; i < nFiles; i++ {
		size := randomSize(rng, p)
		if used+size > budget {
			size = rng.Intn(p.inlineMax() + 1)
		}
		used += size
		files = append(files, fstree.File{
			Path:    unique(dirs[rng.Intn(len(dirs))]),
			Data:    randomData(rng, size),
			ModTime: time.Unix(1600000000+rng.Int63n(1e8), 0),
		})
	}
	tr, err := fstree.FromFiles(files)
	if err != nil {
		panic(err)
	}
	have := map[string]bool{}
	for _, d := range tr.Dirs {
		have[d] = true
	}
	for _, d := range dirs[1:] {
		if !have[d] {
			tr.Dirs = append(tr.Dirs, d) // an empty folder, or parent of empty ones
			for q := path.Dir(d); q != "/" && !have[q]; q = path.Dir(q) {
				have[q] = true
				tr.Dirs = append(tr.Dirs, q)
			}
			have[d] = true
		}
	}
	tr.Sort()
	// Too much for small images (each folder costs a metadata pair)? Drop
	// the largest file, then the deepest folders, until it fits.
	for {
		if _, err := Build(tr, p, Options{}); err == nil {
			break
		} else if !strings.Contains(err.Error(), "use a bigger FS layout") {
			panic(err)
		}
		if len(tr.Files) > 0 {
			big := 0
			for i, f := range tr.Files {
				if len(f.Data) > len(tr.Files[big].Data) {
					big = i
				}
			}
			tr.Files = append(tr.Files[:big], tr.Files[big+1:]...)
			continue
		}
		tr.Dirs = tr.Dirs[:len(tr.Dirs)-1]
	}
	if full {
		fillImage(rng, tr, p)
	}
	return tr
}

// fillImage adds a file of the largest size that still fits (binary
// search over Build), leaving the image full.
func fillImage(rng *rand.Rand, tr *fstree.Tree, p Params) int {
	name := "/zz-filler"
	lo, hi := 0, p.Size // lo fits, hi does not
	fits := func(n int) bool {
		t2 := *tr
		t2.Files = append(append([]fstree.File(nil), tr.Files...), fstree.File{Path: name, Data: make([]byte, n)})
		_, err := Build(&t2, p, Options{})
		return err == nil
	}
	if !fits(0) {
		return -1
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	tr.Files = append(tr.Files, fstree.File{Path: name, Data: randomData(rng, lo)})
	tr.Sort()
	return lo
}

func describeTree(tr *fstree.Tree) string {
	var b strings.Builder
	for _, d := range tr.Dirs {
		fmt.Fprintf(&b, "D %s\n", d)
	}
	var fs []string
	for _, f := range tr.Files {
		fs = append(fs, fmt.Sprintf("F %s %d", f.Path, len(f.Data)))
	}
	sort.Strings(fs)
	b.WriteString(strings.Join(fs, "\n"))
	return b.String()
}
