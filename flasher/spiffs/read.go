package spiffs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// FileInfo describes one live file of an image.
type FileInfo struct {
	Path       string // object name, e.g. "/www/index.html"
	Size       int    // bytes; 0 for a file nothing was written to
	ID         uint16 // SPIFFS object id
	Header     int    // page index of the object index header
	Pages      []int  // data pages in file order; -1 where one is missing or bad
	IndexPages []int  // further object index pages (files over ~26 KB); -1 where missing
	Damaged    string // why the content cannot be read ("" when it can); Check has the details
}

// Problem is one inconsistency Check found.
type Problem struct {
	Page int    // page index (byte offset / page size); -1 when not about one page
	What string // what is wrong
}

func (p Problem) String() string {
	if p.Page < 0 {
		return p.What
	}
	return fmt.Sprintf("page %d: %s", p.Page, p.What)
}

// Image is a parsed SPIFFS image.
type Image struct {
	Files  []FileInfo // live files, in the order of their header pages (SPIFFS' readdir order)
	Params Params     // parameters it was read with

	img      []byte
	g        geom
	problems []Problem
}

func errSize(got, want int) error {
	return fmt.Errorf("%w: the image has %d bytes but the parameters say %d: pass the FS size of the layout it was made for", errParams, got, want)
}

// page states found while reading
type pageInfo struct {
	lu    uint16 // lookup entry
	live  bool   // a consistent, live page (data or index)
	index bool   // live index page
	used  bool   // referenced by a live file
}

// Read parses img with parameters p (p.Size 0 means len(img)). It returns
// an error only when the parameters are invalid or do not match the
// image's size; damage inside the image is tolerated: damaged files are
// listed with their problems and everything found is reported by Check.
// Read keeps img; do not modify it while using the Image.
func Read(img []byte, p Params) (*Image, error) {
	if p.Size == 0 {
		p.Size = len(img)
	}
	g, err := p.geom()
	if err != nil {
		return nil, err
	}
	if len(img) != g.S {
		return nil, errSize(len(img), g.S)
	}
	im := &Image{Params: p, img: img, g: g}
	im.scan()
	return im, nil
}

func (im *Image) page(pix int) []byte { return im.img[pix*im.g.P : (pix+1)*im.g.P] }

func (im *Image) problem(pix int, format string, a ...any) {
	im.problems = append(im.problems, Problem{Page: pix, What: fmt.Sprintf(format, a...)})
}

type spanKey struct {
	id   uint16 // with ixFlag for index pages
	span int
}

// scan is docs §3.11: walk the lookup pages, check each page against its
// lookup entry, then follow every live index header to its data.
func (im *Image) scan() {
	g := &im.g
	info := make([]pageInfo, g.pages)
	live := map[spanKey]int{}
	var headers []int
	badMagic := 0
	for b := 0; b < g.N; b++ {
		blk := im.img[b*g.B : (b+1)*g.B]
		if g.useMagic && le16(blk[g.magicOff:]) != g.magic(b) {
			badMagic++
			im.problem(b*g.ppb, "block %d: magic %#04x, expected %#04x (not formatted with these parameters, or an interrupted erase)",
				b, le16(blk[g.magicOff:]), g.magic(b))
		}
		for e := 0; e < g.E; e++ {
			pix := g.pix(b, e)
			id := le16(blk[2*e:])
			info[pix].lu = id
			pg := im.page(pix)
			pid, span, flags := le16(pg), int(le16(pg[2:])), pg[4]
			switch id {
			case idFree:
				if !allFF(pg) {
					im.problem(pix, "lookup entry says free but the page holds data (interrupted write?)")
				}
				continue
			case idDeleted:
				if flags&flagDelet != 0 && flags&flagUsed == 0 {
					im.problem(pix, "lookup entry says deleted but the page header is not marked deleted (flags %#02x)", flags)
				}
				continue
			}
			switch {
			case pid != id:
				im.problem(pix, "page header says object %#04x but the lookup entry says %#04x", pid, id)
			case flags&flagUsed != 0:
				im.problem(pix, "lookup entry says object %#04x but the page was never written (flags %#02x)", id&^ixFlag, flags)
			case flags&flagDelet == 0:
				im.problem(pix, "page is marked deleted but its lookup entry still says object %#04x", id&^ixFlag)
			case flags&flagFinal != 0:
				im.problem(pix, "page of object %#04x was never finalized (interrupted write)", id&^ixFlag)
			case (flags&flagIndex == 0) != (id&ixFlag != 0):
				im.problem(pix, "page type (flags %#02x) does not match its lookup entry %#04x", flags, id)
			case id&ixFlag != 0 && span == 0 && flags&flagIxDele == 0:
				im.problem(pix, "index header of object %#04x is marked as being deleted", id&^ixFlag)
			default:
				k := spanKey{id, span}
				if first, dup := live[k]; dup {
					im.problem(pix, "second live page for object %#04x span %d (the first is page %d)", id&^ixFlag, span, first)
					continue
				}
				live[k] = pix
				info[pix].live = true
				info[pix].index = id&ixFlag != 0
				if info[pix].index && span == 0 {
					headers = append(headers, pix)
				}
			}
		}
	}
	if badMagic > 1 {
		im.problem(-1, "%d blocks have a wrong magic: SPIFFS will not mount this image with these parameters", badMagic)
	}
	names := map[string]int{}
	for _, hp := range headers {
		f, ok := im.readHeader(hp, live, info)
		if !ok {
			continue
		}
		if first, dup := names[f.Path]; dup {
			im.problem(hp, "%s: a second file with this name (the first has its header at page %d)", f.Path, first)
		} else {
			names[f.Path] = hp
		}
		im.Files = append(im.Files, f)
	}
	for pix := range info {
		in := &info[pix]
		if !in.live || in.used {
			continue
		}
		pg := im.page(pix)
		kind := "data"
		if in.index {
			kind = "index"
		}
		im.problem(pix, "orphan %s page of object %#04x span %d: no live file refers to it", kind, le16(pg)&^ixFlag, le16(pg[2:]))
	}
	sort.SliceStable(im.problems, func(i, j int) bool { return im.problems[i].Page < im.problems[j].Page })
}

// readHeader turns a live index header into a FileInfo, checking its
// index tables and data pages.
func (im *Image) readHeader(hp int, live map[spanKey]int, info []pageInfo) (FileInfo, bool) {
	g := &im.g
	pg := im.page(hp)
	id := le16(pg) &^ ixFlag
	info[hp].used = true
	nameField := pg[g.nameOff : g.nameOff+g.nameLen]
	n := bytes.IndexByte(nameField, 0)
	if n < 0 {
		im.problem(hp, "object %#04x: name is not NUL-terminated within %d bytes", id, g.nameLen)
		n = len(nameField)
	}
	f := FileInfo{Path: string(nameField[:n]), ID: id, Header: hp}
	if typ := pg[12]; typ != typeFile {
		im.problem(hp, "%s: object type %d is not a file (SPIFFS_TYPE_FILE = 1); skipped", f.Path, typ)
		return f, false
	}
	size := le32(pg[8:])
	if size == undefinedLen {
		size = 0
	}
	nData := (int64(size) + int64(g.D) - 1) / int64(g.D)
	if nData > int64(g.pages) {
		im.problem(hp, "%s: size %d needs %d data pages, more than the image has", f.Path, size, nData)
		f.Damaged = "its size is impossible"
		f.Size = int(size)
		return f, true
	}
	f.Size = int(size)
	if nData == 0 {
		return f, true
	}
	lastIx := g.ixSpan(int(nData) - 1)
	ixPages := make([]int, lastIx+1)
	ixPages[0] = hp
	for ix := 1; ix <= lastIx; ix++ {
		p, ok := live[spanKey{id | ixFlag, ix}]
		if !ok {
			im.problem(hp, "%s: index page %d (data spans %d–%d) is missing", f.Path, ix, g.firstSpan(ix), g.firstSpan(ix)+g.ixLen-1)
			f.Damaged = "an index page is missing"
			p = -1
		} else {
			info[p].used = true
		}
		ixPages[ix] = p
		f.IndexPages = append(f.IndexPages, p)
	}
	f.Pages = make([]int, nData)
	for s := range f.Pages {
		f.Pages[s] = -1
		ix := g.ixSpan(s)
		ipix := ixPages[ix]
		if ipix < 0 {
			continue
		}
		ref := int(le16(im.page(ipix)[g.tableOff(ix, s):]))
		switch {
		case ref == idFree:
			im.problem(ipix, "%s: no data page for span %d (bytes %d–%d)", f.Path, s, s*g.D, min((s+1)*g.D, int(size))-1)
		case ref >= g.pages || g.isLookup(ref):
			im.problem(ipix, "%s: bad index entry for span %d: page %d is not a data page of this image", f.Path, s, ref)
		case !info[ref].live || info[ref].lu != id || int(le16(im.page(ref)[2:])) != s:
			im.problem(ipix, "%s: index entry for span %d points to page %d, which is not live data span %d of object %#04x", f.Path, s, ref, s, id)
		default:
			if info[ref].used {
				im.problem(ref, "%s: data page %d is referenced twice", f.Path, ref)
			}
			info[ref].used = true
			f.Pages[s] = ref
			continue
		}
		f.Damaged = "a data page is missing or bad"
	}
	return f, true
}

func allFF(b []byte) bool {
	for _, c := range b {
		if c != 0xFF {
			return false
		}
	}
	return true
}

// Check reports every inconsistency found in the image, ordered by page:
// lookup entries that disagree with their pages, unfinished or
// half-deleted pages, wrong block magic, bad or missing index entries,
// sizes the data pages do not cover, duplicate names, orphan pages. An
// image mkspiffs made reports none.
func (im *Image) Check() []Problem {
	return append([]Problem(nil), im.problems...)
}

// ReadFile returns the content of the file named name ("/config.json");
// in a damaged image holding the name twice, of the first in Files.
func (im *Image) ReadFile(name string) ([]byte, error) {
	for i := range im.Files {
		if im.Files[i].Path == name {
			return im.content(&im.Files[i])
		}
	}
	return nil, fmt.Errorf("%s: %w in the image", name, fs.ErrNotExist)
}

func (im *Image) content(f *FileInfo) ([]byte, error) {
	if f.Damaged != "" {
		return nil, fmt.Errorf("%s: damaged, %s (see Check)", f.Path, f.Damaged)
	}
	g := &im.g
	out := make([]byte, 0, f.Size)
	for s, pix := range f.Pages {
		n := min(g.D, f.Size-s*g.D)
		out = append(out, im.page(pix)[pageHeaderLen:pageHeaderLen+n]...)
	}
	return out, nil
}

// Extract writes every readable file under dir (created if missing),
// recreating the folders the names imply. Names are taken from an
// untrusted image, so each must be a plain relative path after its
// leading "/": no "..", "." or empty elements, no backslashes, colons or
// control characters; files are written through an os.Root so nothing
// (not even a symbolic link already in dir) leads outside dir. Files that
// are refused or damaged are skipped and reported in the returned error;
// the others are still written.
func (im *Image) Extract(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	var errs []error
	done := map[string]bool{}
	for i := range im.Files {
		f := &im.Files[i]
		rel, err := localName(f.Path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if done[rel] {
			errs = append(errs, fmt.Errorf("%s: a second file of that name (header page %d): not extracted", f.Path, f.Header))
			continue
		}
		done[rel] = true
		data, err := im.content(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if d := path.Dir(rel); d != "." {
			if err := root.MkdirAll(filepath.FromSlash(d), 0o755); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", f.Path, err))
				continue
			}
		}
		if err := root.WriteFile(filepath.FromSlash(rel), data, 0o644); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Path, err))
		}
	}
	return errors.Join(errs...)
}

// localName turns an object name into a safe slash-separated relative
// path, or explains why it cannot be one.
func localName(name string) (string, error) {
	rel, ok := strings.CutPrefix(name, "/")
	if !ok {
		return "", fmt.Errorf("%q: name does not start with \"/\": not extracted", name)
	}
	if !fs.ValidPath(rel) || rel == "." {
		return "", fmt.Errorf("%q: name has empty, \".\" or \"..\" elements: not extracted", name)
	}
	for _, c := range rel {
		if c < 0x20 || c == 0x7F || c == '\\' || c == ':' {
			return "", fmt.Errorf("%q: name has a backslash, colon or control character: not extracted", name)
		}
	}
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		return "", fmt.Errorf("%q: not a local path on this system: not extracted", name)
	}
	return rel, nil
}

// Detect guesses the parameters of a SPIFFS image from its size, block
// magic and index headers, for listing an image nobody described: page
// sizes 256, 512, 128, 1024 … and block sizes from 2 pages to 64 KiB are
// tried; the smallest block size whose blocks all carry the magic wins
// (one bad block is allowed, like SPIFFS' mount), with and without
// magic length. The index header layout (ESP8266: 2-byte aligned, no
// metadata; ESP32: 4 metadata bytes; plain SPIFFS: neither) is chosen by
// which one makes the headers' first table entries point to their data;
// with no files the configuration that goes with the magic kind is
// returned (ESP8266Params or ESP32Params). Name length 32 is assumed.
func Detect(img []byte) (Params, error) {
	if len(img) == 0 {
		return Params{}, errors.New("spiffs: empty image")
	}
	for _, P := range []int{256, 512, 128, 1024, 2048, 4096, 64, 8192} {
		for B := 2 * P; B <= 65536; B *= 2 {
			if len(img)%B != 0 {
				continue
			}
			for _, withLen := range []bool{false, true} {
				p := ESP8266Params(len(img), B)
				p.PageSize = P
				if withLen {
					p = ESP32Params(len(img))
					p.PageSize, p.BlockSize = P, B
				}
				g, err := p.geom()
				if err != nil {
					continue
				}
				bad := 0
				for b := 0; b < g.N && bad < 2; b++ {
					if le16(img[b*g.B+g.magicOff:]) != g.magic(b) {
						bad++
					}
				}
				if bad > 1 || (bad == 1 && g.N < 3) {
					continue
				}
				return detectLayout(img, p), nil
			}
		}
	}
	return Params{}, errors.New("spiffs: no SPIFFS block magic found for any page/block size: not a SPIFFS image, or one built without SPIFFS_USE_MAGIC; pass the page and block size")
}

// detectLayout picks the index header layout that makes the most headers'
// first table entry point to data span 0 of the same object.
func detectLayout(img []byte, p Params) Params {
	type layout struct {
		meta    int
		aligned bool
	}
	layouts := []layout{{0, true}, {4, false}, {0, false}}
	if p.UseMagicLength {
		layouts = []layout{{4, false}, {0, false}, {0, true}}
	}
	best, bestScore := p, 0
	for _, l := range layouts {
		q := p
		q.MetaLen, q.AlignedObjIxTables = l.meta, l.aligned
		g, err := q.geom()
		if err != nil {
			continue
		}
		score := 0
		for pix := 0; pix < g.pages; pix++ {
			if g.isLookup(pix) {
				continue
			}
			pg := img[pix*g.P : (pix+1)*g.P]
			id := le16(pg)
			if id == idFree || id&ixFlag == 0 || le16(pg[2:]) != 0 || pg[4] != flagsIndex {
				continue
			}
			ref := int(le16(pg[g.hdrLen:]))
			if ref >= g.pages || g.isLookup(ref) {
				continue
			}
			d := img[ref*g.P:]
			if le16(d) == id&^ixFlag && le16(d[2:]) == 0 {
				score++
			}
		}
		if score > bestScore {
			best, bestScore = q, score
		}
	}
	return best
}
