// Package fstree owns the input of the filesystem image builders: a
// folder (or an in-memory list) turned into files and directories with
// image paths, in the one order every builder adds them.
//
// The order matters: SPIFFS and LittleFS images depend on the order files
// are added. iotbench uses byte-wise sorted, depth-first order (what
// filepath.WalkDir yields); the reference images in shared/testdata/fs
// were made with their tools fed in that order (its MANIFEST.txt).
package fstree

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// File is one file to put into an image.
type File struct {
	// Path inside the image: slash-separated, starting with "/", e.g.
	// "/www/index.html".
	Path    string
	Data    []byte
	ModTime time.Time
}

// Tree is what goes into an image: directories (LittleFS stores them;
// SPIFFS has none and only sees the files' full paths) and files, both in
// builder order.
type Tree struct {
	Dirs  []string // "/www", parents before children
	Files []File
}

// Ignored are the names mkspiffs and mklittlefs leave out of an image
// (filesystem-images.md §3.2, §5.3): editor and version-control litter.
var Ignored = []string{".DS_Store", ".git", ".gitignore", ".gitmodules"}

// FromDir reads a folder, leaving out the Ignored names (as mkspiffs
// does). Symbolic links are followed for files; special files are refused.
// Errors name the path and the fix.
func FromDir(root string) (*Tree, error) { return fromDir(root, Ignored) }

// FromDirAll reads a folder including the names FromDir ignores.
func FromDirAll(root string) (*Tree, error) { return fromDir(root, nil) }

func fromDir(root string, ignore []string) (*Tree, error) {
	st, err := os.Stat(root)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%s: no such folder: pass the folder whose contents go into the image (e.g. data/)", root)
		}
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is a file, not a folder: pass the folder whose contents go into the image", root)
	}
	t := &Tree{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		for _, ig := range ignore {
			if d.Name() == ig {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		ip := "/" + filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			t.Dirs = append(t.Dirs, ip)
		case d.Type().IsRegular() || d.Type()&fs.ModeSymlink != 0:
			info, err := os.Stat(p)
			if err != nil {
				return fmt.Errorf("reading %s: %w", p, err)
			}
			if !info.Mode().IsRegular() {
				return fmt.Errorf("%s is not a regular file: remove it from the folder", p)
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return fmt.Errorf("reading %s: %w", p, err)
			}
			t.Files = append(t.Files, File{Path: ip, Data: data, ModTime: info.ModTime()})
		default:
			return fmt.Errorf("%s is not a regular file (%v): remove it from the folder", p, d.Type())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// FromFiles builds a Tree from an in-memory list: paths are cleaned and
// made absolute, parent directories added, everything put in builder
// order. Duplicate paths are an error.
func FromFiles(files []File) (*Tree, error) {
	t := &Tree{}
	seen := map[string]bool{}
	dirs := map[string]bool{}
	for _, f := range files {
		p := path.Clean("/" + strings.TrimPrefix(f.Path, "/"))
		if p == "/" {
			return nil, fmt.Errorf("file with an empty path")
		}
		if seen[p] {
			return nil, fmt.Errorf("%s appears twice", p)
		}
		seen[p] = true
		f.Path = p
		t.Files = append(t.Files, f)
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for d := range dirs {
		if seen[d] {
			return nil, fmt.Errorf("%s is both a file and a folder", d)
		}
		t.Dirs = append(t.Dirs, d)
	}
	t.Sort()
	return t, nil
}

// Sort puts directories and files in WalkDir order: at each level entries
// sorted byte-wise by name, a directory's contents right after it.
func (t *Tree) Sort() {
	key := func(p string) string { return strings.ReplaceAll(p, "/", "\x00") }
	sort.Slice(t.Dirs, func(i, j int) bool { return key(t.Dirs[i]) < key(t.Dirs[j]) })
	sort.SliceStable(t.Files, func(i, j int) bool { return key(t.Files[i].Path) < key(t.Files[j].Path) })
}

// Size is the total content size.
func (t *Tree) Size() int {
	n := 0
	for _, f := range t.Files {
		n += len(f.Data)
	}
	return n
}
