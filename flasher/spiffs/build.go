package spiffs

import (
	"errors"
	"fmt"
	"strings"

	"github.com/iotbench/iotbench/flasher/fstree"
)

// ErrFull is wrapped by Build's error when the files do not fit.
var ErrFull = errors.New("spiffs: the files do not fit the image")

// Build makes a SPIFFS image of t's files with parameters p, the way
// mkspiffs does (docs §3.6): format, then for each file in t.Files order
// create the object and append its content one write-cache page at a
// time. Object names are the files' paths ("/www/index.html"); t.Dirs is
// not used. An empty or nil tree gives an empty formatted file system.
//
// Errors: invalid parameters; a name longer than p.ObjNameLen-1 bytes
// (SPIFFS_open refuses it; mkspiffs skips the rest of that folder);
// paths that are empty, repeated or hold a NUL byte; content that does
// not fit (wraps ErrFull, with the numbers). Where mkspiffs would write
// a partial image (and, when the last write of a file fails in
// SPIFFS_close, even exit 0 with that file cut short: it ignores
// SPIFFS_close's result), Build fails instead.
//
// Near full images take SPIFFS' garbage collection; how many rounds one
// write may run is p.GCMaxRuns, which is where mkspiffs 0.2.0 and later
// versions differ.
func Build(t *fstree.Tree, p Params) ([]byte, error) {
	g, err := p.geom()
	if err != nil {
		return nil, err
	}
	var files []fstree.File
	if t != nil {
		files = t.Files
	}
	seen := make(map[string]bool, len(files))
	for _, f := range files {
		if err := checkName(f.Path, g.nameLen); err != nil {
			return nil, err
		}
		if seen[f.Path] {
			return nil, fmt.Errorf("%s: appears twice: SPIFFS names must be unique", f.Path)
		}
		seen[f.Path] = true
	}
	need := 0
	for _, f := range files {
		need += pagesFor(&g, len(f.Data))
	}
	// Two blocks' worth of pages are SPIFFS' reserve for garbage
	// collection (spiffs_gc_check's free page count): live pages can never
	// exceed the rest, so a tree needing more fails without simulating.
	limit := g.E * (g.N - 2)
	if need > limit {
		return nil, fmt.Errorf("%w: content needs %d bytes of pages but a %s image with these parameters holds at most %d: use a bigger FS layout or remove files",
			ErrFull, need*g.P, sizeString(g.S), limit*g.P)
	}
	s := newSim(g)
	s.format()
	s.mount()
	for _, f := range files {
		err := s.create(f.Path)
		if err == nil {
			err = s.write(f.Data)
		}
		if err == nil {
			continue
		}
		if errors.Is(err, errFull) || errors.Is(err, errNotFound) {
			return nil, fmt.Errorf("%w: content needs %d bytes of pages and a %s image with these parameters holds at most %d, but SPIFFS runs out of free pages while writing %s (it needs room to move index pages and collect garbage as it writes): use a bigger FS layout or remove files",
				ErrFull, need*g.P, sizeString(g.S), limit*g.P, f.Path)
		}
		return nil, fmt.Errorf("spiffs: internal error writing %s: %v", f.Path, err)
	}
	return s.img, nil
}

// checkName applies SPIFFS_open's limit (strlen(path) >
// SPIFFS_OBJ_NAME_LEN-1 is refused) and what a C string can hold.
func checkName(name string, nameLen int) error {
	switch {
	case name == "" || name == "/":
		return errors.New("a file has an empty path")
	case !strings.HasPrefix(name, "/"):
		return fmt.Errorf("%s: SPIFFS names start with \"/\" (use fstree to build the tree)", name)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("%q: contains a NUL byte: rename the file", name)
	case len(name) > nameLen-1:
		return fmt.Errorf("%s: %d bytes, the limit is %d: shorten the name", name, len(name), nameLen-1)
	}
	return nil
}

// pagesFor is the live pages a file of n bytes occupies: its index
// header, its data pages and its further index pages.
func pagesFor(g *geom, n int) int {
	if n == 0 {
		return 1
	}
	data := (n + g.D - 1) / g.D
	return 1 + data + g.ixSpan(data-1)
}

// sizeString formats an image size the way layouts are usually named.
func sizeString(n int) string {
	if n%1024 == 0 {
		return fmt.Sprintf("%d KiB (%#x bytes)", n/1024, n)
	}
	return fmt.Sprintf("%d-byte", n)
}
