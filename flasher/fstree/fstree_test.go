package fstree

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The reference images' order (shared/testdata/fs/MANIFEST.txt): byte-wise
// sorted, depth-first, as WalkDir yields it — FromFiles must agree.
func TestOrderMatchesWalkDir(t *testing.T) {
	dir := t.TempDir()
	paths := []string{"b.txt", "a/z.txt", "a/b/c.txt", "A.txt", "a.txt", "a-b.txt", "www/index.html", "ca.der"}
	var files []File
	for _, p := range paths {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, []byte(p), 0o644)
		files = append(files, File{Path: p, Data: []byte(p)})
	}
	fromDir, err := FromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fromMem, err := FromFiles(files)
	if err != nil {
		t.Fatal(err)
	}
	var a, b []string
	for _, f := range fromDir.Files {
		a = append(a, f.Path)
	}
	for _, f := range fromMem.Files {
		b = append(b, f.Path)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("WalkDir order %v\nFromFiles order %v", a, b)
	}
	if !reflect.DeepEqual(fromDir.Dirs, fromMem.Dirs) {
		t.Fatalf("dirs %v vs %v", fromDir.Dirs, fromMem.Dirs)
	}
}

func TestErrors(t *testing.T) {
	if _, err := FromDir(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("missing folder accepted")
	}
	if _, err := FromFiles([]File{{Path: "/a"}, {Path: "a"}}); err == nil {
		t.Fatal("duplicate accepted")
	}
	if _, err := FromFiles([]File{{Path: "/a"}, {Path: "/a/b"}}); err == nil {
		t.Fatal("file and folder with one name accepted")
	}
}

func TestIgnoreList(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{".git/HEAD", ".DS_Store", "keep.txt", "sub/.gitignore"} {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, []byte("x"), 0o644)
	}
	tr, err := FromDir(dir)
	if err != nil || len(tr.Files) != 1 || tr.Files[0].Path != "/keep.txt" {
		t.Fatalf("FromDir kept %+v (%v)", tr, err)
	}
	all, err := FromDirAll(dir)
	if err != nil || len(all.Files) != 4 {
		t.Fatalf("FromDirAll: %+v %v", all, err)
	}
}
