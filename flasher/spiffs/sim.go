package spiffs

import (
	"bytes"
	"errors"
)

// This file is a model of the part of SPIFFS 0.3.7-5-gf5e26c4 that
// mkspiffs exercises: format, mount, SPIFFS_open(CREAT|TRUNC|RDWR) of new
// files, writes through the per-file write cache, close, and the garbage
// collection those writes trigger. It keeps SPIFFS' state (free cursor,
// page statistics, erase counters, the open file's descriptor, the work
// page) and follows the same decisions in the same order, so it allocates,
// moves, deletes and erases exactly the pages SPIFFS does. The functions
// name the SPIFFS functions they follow (pellepl/spiffs src/spiffs_nucleus.c,
// spiffs_gc.c, spiffs_hydrogen.c, spiffs_cache.c).
//
// What is deliberately not modelled, because it never changes a byte of
// the image mkspiffs writes:
//   - the read cache: it is write-through (SPIFFS_CACHE_FLAG_WRTHRU) and
//     dropped on erase, so flash is always current;
//   - the search cursor of spiffs_obj_lu_find_id_and_span: in a healthy
//     file system at most one live page has a given id and span, so where
//     the search starts does not change what it finds;
//   - closed descriptors (SPIFFS_TEMPORAL_FD_CACHE keeps them and updates
//     them on events): they hold no write cache, so they never write.

// Errors SPIFFS reports; only errFull is expected in practice.
var (
	errFull     = errors.New("file system full")                      // SPIFFS_ERR_FULL
	errNotFound = errors.New("object not found")                      // SPIFFS_ERR_NOT_FOUND
	errCorrupt  = errors.New("inconsistent page (SPIFFS would fail)") // SPIFFS_ERR_IS_FREE, _DELETED, ...
)

// openFile is the spiffs_fd of the one file mkspiffs has open.
type openFile struct {
	open      bool
	id        uint16 // object id without the index flag
	hdrPix    int    // objix_hdr_pix
	size      uint32 // size (undefinedLen until the first append)
	cursorPix int    // cursor_objix_pix
	cursorIx  int    // cursor_objix_spix
}

type sim struct {
	g   geom
	img []byte

	freeBlocks int    // free_blocks
	allocated  int    // stats_p_allocated
	deleted    int    // stats_p_deleted
	maxErase   uint16 // max_erase_count
	freeBlock  int    // free_cursor_block_ix
	freeEntry  int    // free_cursor_obj_lu_entry
	cleaning   bool   // cleaning: set while gc_clean runs

	work []byte // fs->work: the index page being edited
	fd   openFile

	// Per-block counts gcCandidate needs (deleted and used entries before
	// the first free one), recomputed only for blocks whose lookup page
	// changed since: GC runs on almost every write once an image is
	// nearly full, and rescanning every block each time dominated.
	blkDel, blkUsed []int
	blkDirty        []bool
	ff              []byte // one erased block

	// ixHint remembers where index pages were last written, so
	// findIDAndSpan can usually verify one page instead of scanning.
	ixHint map[spanKey]int
}

func newSim(g geom) *sim {
	s := &sim{g: g, img: bytes.Repeat([]byte{0xFF}, g.S), work: make([]byte, g.P)}
	s.blkDel = make([]int, g.N)
	s.blkUsed = make([]int, g.N)
	s.blkDirty = make([]bool, g.N)
	s.ixHint = map[spanKey]int{}
	for b := range s.blkDirty {
		s.blkDirty[b] = true
	}
	return s
}

func (s *sim) page(pix int) []byte { return s.img[pix*s.g.P : (pix+1)*s.g.P] }

func (s *sim) lu(b, e int) uint16 { return le16(s.img[b*s.g.B+2*e:]) }

func (s *sim) setLU(b, e int, id uint16) {
	put16(s.img[b*s.g.B+2*e:], id)
	s.blkDirty[b] = true
}

func (s *sim) luOf(pix int) uint16 { return s.lu(s.g.blockOf(pix), s.g.entryOf(pix)) }

func (s *sim) setLUOf(pix int, id uint16) { s.setLU(s.g.blockOf(pix), s.g.entryOf(pix), id) }

// format is SPIFFS_format: erase every block, resetting the erase counter
// before each, so all blocks get erase count 0 and the magic.
func (s *sim) format() {
	for b := 0; b < s.g.N; b++ {
		s.maxErase = 0
		s.eraseBlock(b)
	}
}

// eraseBlock is spiffs_erase_block (plus the cache drop of
// spiffs_gc_erase_block, nothing to do here).
func (s *sim) eraseBlock(b int) {
	blk := s.img[b*s.g.B : (b+1)*s.g.B]
	if s.ff == nil {
		s.ff = bytes.Repeat([]byte{0xFF}, s.g.B)
	}
	copy(blk, s.ff)
	s.blkDirty[b] = true
	s.freeBlocks++
	put16(blk[s.g.eraseOff:], s.maxErase)
	if s.g.useMagic {
		put16(blk[s.g.magicOff:], s.g.magic(b))
	}
	s.maxErase++
	if s.maxErase == ixFlag {
		s.maxErase = 0
	}
}

// mount is SPIFFS_mount's spiffs_obj_lu_scan: erase counter and page
// statistics from the lookup pages; cursors start at block 0.
func (s *sim) mount() {
	minEC, maxEC := uint16(0xFFFF), uint16(0)
	for b := 0; b < s.g.N; b++ {
		ec := le16(s.img[b*s.g.B+s.g.eraseOff:])
		if ec != 0xFFFF {
			minEC = min(minEC, ec)
			maxEC = max(maxEC, ec)
		}
	}
	switch {
	case minEC == 0 && maxEC == 0xFFFF:
		s.maxErase = 0
	case maxEC-minEC > 0xFFFF/2:
		s.maxErase = minEC + 1
	default:
		s.maxErase = maxEC + 1
	}
	s.freeBlocks, s.allocated, s.deleted = 0, 0, 0
	for b := 0; b < s.g.N; b++ {
		for e := 0; e < s.g.E; e++ {
			switch s.lu(b, e) {
			case idFree:
				if e == 0 {
					s.freeBlocks++
				}
			case idDeleted:
				s.deleted++
			default:
				s.allocated++
			}
		}
	}
	s.freeBlock, s.freeEntry = 0, 0
}

// findLU is spiffs_obj_lu_find_id: the first lookup entry equal to id,
// scanning every entry once from (b, e) and wrapping from the last block
// to block 0.
func (s *sim) findLU(b, e int, id uint16) (int, int, bool) {
	if e > s.g.E-1 {
		e = 0
		b++
		if b >= s.g.N {
			b = 0
		}
	}
	for n := s.g.N * s.g.E; n > 0; n-- {
		if s.lu(b, e) == id {
			return b, e, true
		}
		e++
		if e == s.g.E {
			e = 0
			b++
			if b == s.g.N {
				b = 0
			}
		}
	}
	return 0, 0, false
}

// findFree is spiffs_obj_lu_find_free: the first free entry at or after
// the free cursor. Outside garbage collection it first makes sure two
// blocks stay free, erasing a fully deleted block if needed.
func (s *sim) findFree() (int, error) {
	if !s.cleaning && s.freeBlocks < 2 {
		s.gcQuick()
		if s.freeBlocks < 2 {
			return 0, errFull
		}
	}
	b, e, ok := s.findLU(s.freeBlock, s.freeEntry, idFree)
	if !ok {
		return 0, errNotFound
	}
	s.freeBlock, s.freeEntry = b, e+1
	if e == 0 {
		s.freeBlocks--
	}
	return s.g.pix(b, e), nil
}

// gcQuick is spiffs_gc_quick(fs, 0): erase the first block whose entries
// are all deleted.
func (s *sim) gcQuick() {
	for b := 0; b < s.g.N; b++ {
		del := 0
		for e := 0; e < s.g.E; e++ {
			if s.lu(b, e) != idDeleted {
				del = -1
				break
			}
			del++
		}
		if del == s.g.E {
			s.deleted -= del
			s.eraseBlock(b)
			return
		}
	}
}

// freePages is the free page estimate of spiffs_gc_check.
func (s *sim) freePages() int {
	return s.g.E*(s.g.N-2) - s.allocated - s.deleted
}

// gcCheck is spiffs_gc_check: before an operation that may need n bytes
// of data pages, run garbage collection rounds until two blocks are free
// and n bytes fit, or fail with errFull.
func (s *sim) gcCheck(n int) error {
	free := s.freePages()
	D := s.g.D
	if s.freeBlocks > 3 && n < free*D {
		return nil
	}
	needed := (n + D - 1) / D
	if needed > free+s.deleted {
		return errFull
	}
	for tries := 0; ; {
		prev := free
		cand := s.gcCandidate(free <= 0)
		s.cleaning = true
		err := s.gcClean(cand)
		s.cleaning = false
		if err != nil {
			return err
		}
		s.gcEraseStats(cand)
		s.eraseBlock(cand)
		free = s.freePages()
		if prev <= 0 && prev == free {
			break // no progress while crammed
		}
		tries++
		if !(tries < s.g.gcMaxRuns && (s.freeBlocks <= 2 || n > free*D)) {
			break
		}
	}
	if n > s.freePages()*D {
		return errFull
	}
	return nil
}

// gcEraseStats is spiffs_gc_erase_page_stats.
func (s *sim) gcEraseStats(b int) {
	for e := 0; e < s.g.E; e++ {
		switch s.lu(b, e) {
		case idFree:
		case idDeleted:
			s.deleted--
		default:
			s.allocated--
		}
	}
}

// gcCandidate is spiffs_gc_find_candidate's first choice: the block with
// the highest score 5×deleted − used + 50×erase age (age ignored when
// crammed), counting entries up to the first free one; ties go to the
// lower block because the candidate list only lets a strictly higher
// score overtake.
func (s *sim) gcCandidate(crammed bool) int {
	best, bestScore := -1, 0
	for b := 0; b < s.g.N; b++ {
		if s.blkDirty[b] {
			del, used := 0, 0
			for e := 0; e < s.g.E; e++ {
				id := s.lu(b, e)
				if id == idFree {
					break
				}
				if id == idDeleted {
					del++
				} else {
					used++
				}
			}
			s.blkDel[b], s.blkUsed[b], s.blkDirty[b] = del, used, false
		}
		del, used := s.blkDel[b], s.blkUsed[b]
		ec := le16(s.img[b*s.g.B+s.g.eraseOff:])
		var age uint16
		if s.maxErase > ec {
			age = s.maxErase - ec
		} else {
			age = 0xFFFF - (ec - s.maxErase)
		}
		score := del*5 - used
		if !crammed {
			score += int(age) * 50
		}
		if best < 0 || score > bestScore {
			best, bestScore = b, score
		}
	}
	return best
}

// pageHeader reads the 5-byte page header of pix.
func (s *sim) pageHeader(pix int) (id uint16, span int, flags byte) {
	p := s.page(pix)
	return le16(p), int(le16(p[2:])), p[4]
}

// validIndex is SPIFFS_VALIDATE_OBJIX for a page header held in buf.
func validIndex(buf []byte, id uint16, span int) error {
	f := buf[4]
	if f&flagUsed != 0 || f&flagDelet == 0 || f&flagFinal != 0 || f&flagIndex != 0 ||
		id&ixFlag == 0 || int(le16(buf[2:])) != span {
		return errCorrupt
	}
	return nil
}

// validData is SPIFFS_VALIDATE_DATA.
func validData(buf []byte, id uint16, span int) error {
	f := buf[4]
	if f&flagUsed != 0 || f&flagDelet == 0 || f&flagFinal != 0 || f&flagIndex == 0 ||
		id&ixFlag != 0 || int(le16(buf[2:])) != span {
		return errCorrupt
	}
	return nil
}

// checkPageRef is the range part of spiffs_page_index_check and
// spiffs_page_data_check.
func (s *sim) checkPageRef(pix int) error {
	if pix == idFree || s.g.isLookup(pix) || pix >= s.g.pages {
		return errCorrupt
	}
	return nil
}

// findIDAndSpan is spiffs_obj_lu_find_id_and_span: the live page of
// index object id (with the index flag) and span. SPIFFS scans from a
// search cursor; at most one page matches, so checking the page last
// written for it first finds the same page.
func (s *sim) findIDAndSpan(id uint16, span int) (int, error) {
	if pix, ok := s.ixHint[spanKey{id, span}]; ok && s.isLive(pix, id, span) {
		return pix, nil
	}
	for b := 0; b < s.g.N; b++ {
		for e := 0; e < s.g.E; e++ {
			if pix := s.g.pix(b, e); s.isLive(pix, id, span) {
				return pix, nil
			}
		}
	}
	return 0, errNotFound
}

// isLive is spiffs_obj_lu_find_id_and_span_v's test.
func (s *sim) isLive(pix int, id uint16, span int) bool {
	if s.luOf(pix) != id {
		return false
	}
	pid, pspan, f := s.pageHeader(pix)
	return pid == id && pspan == span &&
		f&(flagFinal|flagDelet|flagUsed) == flagDelet &&
		!(id&ixFlag != 0 && f&flagIxDele == 0 && pspan == 0)
}

// hint records that index page span of id (with the index flag) is now
// at pix.
func (s *sim) hint(id uint16, span, pix int) {
	if id&ixFlag != 0 {
		s.ixHint[spanKey{id, span}] = pix
	}
}

// event is spiffs_cb_object_event as far as the open descriptor goes:
// index pages of the open file moved or changed.
func (s *sim) event(id uint16, span, newPix int, newSize uint32) {
	if !s.fd.open || id&^ixFlag != s.fd.id {
		return
	}
	if span == 0 {
		s.fd.hdrPix = newPix
		if newSize != 0 {
			s.fd.size = newSize
		}
	}
	if s.fd.cursorIx == span {
		s.fd.cursorPix = newPix
	}
}

// pageDelete is spiffs_page_delete: lookup entry to 0, and the constant
// 0x7E written over the flags byte (mkspiffs' flash is plain memory, so
// the byte becomes exactly 0x7E; docs §3.4).
func (s *sim) pageDelete(pix int) {
	s.setLUOf(pix, idDeleted)
	s.deleted++
	s.allocated--
	s.page(pix)[4] = flagsDeleted
}

// pageMove is spiffs_page_move: put data (a whole page; nil = copy the
// source page) into a free page, register it for id, delete the source.
func (s *sim) pageMove(data []byte, id uint16, src int) (int, error) {
	dst, err := s.findFree()
	if err != nil {
		return 0, err
	}
	wasFinal := false
	if data != nil {
		wasFinal = data[4]&flagFinal == 0
		data[4] |= flagFinal
		data[4] &^= flagUsed
		copy(s.page(dst), data)
	} else {
		copy(s.page(dst), s.page(src))
	}
	s.setLUOf(dst, id)
	s.allocated++
	if wasFinal {
		data[4] &^= flagFinal | flagUsed
		s.page(dst)[4] = data[4]
	}
	s.pageDelete(src)
	s.hint(id, int(le16(s.page(dst)[2:])), dst)
	return dst, nil
}

// allocPage is spiffs_page_allocate_data: take a free page for id, write
// its header (and data at page offset off), finalize it.
func (s *sim) allocPage(id uint16, span int, flags byte, data []byte, off int) (int, error) {
	pix, err := s.findFree()
	if err != nil {
		return 0, err
	}
	s.setLUOf(pix, id)
	s.allocated++
	flags &^= flagUsed
	p := s.page(pix)
	put16(p, id)
	put16(p[2:], uint16(span))
	p[4] = flags
	if data != nil {
		copy(p[pageHeaderLen+off:], data)
	}
	if flags&flagFinal != 0 {
		flags &^= flagFinal
		p[4] = flags
	}
	s.hint(id, span, pix)
	return pix, nil
}

// updateIndexHdr is spiffs_object_update_index_hdr: write the index header
// (data, or the page at hdrPix when nil) with a new size (0: unchanged)
// to a new page.
func (s *sim) updateIndexHdr(id uint16, hdrPix int, data []byte, size uint32) (int, error) {
	id |= ixFlag
	if data == nil {
		copy(s.work, s.page(hdrPix))
		data = s.work
	}
	if err := validIndex(data, id, 0); err != nil {
		return 0, err
	}
	if size != 0 {
		put32(data[8:], size)
	}
	newPix, err := s.pageMove(data, id, hdrPix)
	if err != nil {
		return 0, err
	}
	s.event(id, int(le16(data[2:])), newPix, le32(data[8:]))
	return newPix, nil
}

// gcClean is spiffs_gc_clean: evacuate block b. Live data pages are
// moved one owning index page at a time (each group followed by a move of
// its updated index page), then the remaining live index pages.
func (s *sim) gcClean(b int) error {
	const (
		findData = iota
		moveData
		moveIx
		finished
	)
	g := &s.g
	if s.freeBlock == b {
		s.freeBlock = (b + 1) % g.N
		s.freeEntry = 0
	}
	state := findData
	entry := 0
	var (
		curID     uint16 // data object id being evacuated
		curIx     int    // its index span
		curIxPix  int    // its index page
		stored    int    // pushed scan position
		foundData int
	)
	for state != finished {
		found := false
		for scan := true; scan && entry < g.E; entry++ {
			id := s.lu(b, entry)
			pix := g.pix(b, entry)
			switch state {
			case findData:
				if id != idDeleted && id != idFree && id&ixFlag == 0 {
					found, curID, foundData, scan = true, id, pix, false
				}
			case moveData:
				if id != curID {
					break
				}
				_, span, flags := s.pageHeader(pix)
				if g.ixSpan(span) != curIx {
					break // belongs to another index page: a later round
				}
				newPix := idFree
				if flags&flagDelet != 0 {
					var err error
					if newPix, err = s.pageMove(nil, id, pix); err != nil {
						return err
					}
				} else {
					s.pageDelete(pix) // deleted page still in the lookup: scrap it
				}
				put16(s.work[g.tableOff(curIx, span):], uint16(newPix))
			case moveIx:
				if id == idDeleted || id == idFree || id&ixFlag == 0 {
					break
				}
				_, span, flags := s.pageHeader(pix)
				if flags&flagDelet != 0 {
					newPix, err := s.pageMove(nil, id, pix)
					if err != nil {
						return err
					}
					s.event(id, span, newPix, 0)
				} else {
					s.pageDelete(pix)
					// SPIFFS_EV_IX_DEL would close a descriptor of this
					// object; a live file never has such a page.
				}
			}
		}
		switch state {
		case findData:
			if !found {
				state, entry = moveIx, 0
				break
			}
			stored, entry, state = entry, 0, moveData
			_, span, _ := s.pageHeader(foundData)
			curIx = g.ixSpan(span)
			pix, err := s.findIDAndSpan(curID|ixFlag, curIx)
			if err == errNotFound {
				// Unreferenced data page: delete it, keep scanning.
				s.pageDelete(foundData)
				entry, state = stored, findData
				break
			}
			copy(s.work, s.page(pix))
			if err := validIndex(s.work, curID|ixFlag, curIx); err != nil {
				return err
			}
			curIxPix = pix
		case moveData:
			state, entry = findData, stored
			if curIx == 0 {
				if _, err := s.updateIndexHdr(curID, curIxPix, s.work, 0); err != nil {
					return err
				}
			} else {
				newPix, err := s.pageMove(s.work, curID|ixFlag, curIxPix)
				if err != nil {
					return err
				}
				s.event(curID, int(le16(s.work[2:])), newPix, 0)
			}
		case moveIx:
			state = finished
		}
	}
	return nil
}

// newObjID is spiffs_obj_lu_find_free_obj_id: the lowest id no lookup
// entry uses when the id range fits a page-sized bitmap; for bigger file
// systems it first narrows the range to the least used group of ids,
// counting live index headers (docs §3.5).
func (s *sim) newObjID() (uint16, error) {
	g := &s.g
	maxObjects := g.N * g.E / 2
	minID, maxID := 1, maxObjects+1
	if maxID&ixFlag != 0 {
		maxID = 0x7FFF
	}
	compaction := 0
	work := s.work
	for {
		if maxID-minID <= g.P*8 {
			clear(work)
			for b := 0; b < g.N; b++ {
				for e := 0; e < g.E; e++ {
					id := s.lu(b, e)
					if id == idFree || id == idDeleted {
						continue
					}
					d := int(id&^ixFlag) - minID
					if d >= 0 && d>>3 < g.P {
						work[d>>3] |= 1 << (d & 7)
					}
				}
			}
			for i := 0; i < g.P; i++ {
				if work[i] == 0xFF {
					continue
				}
				for j := 0; j < 8; j++ {
					if work[i]&(1<<j) == 0 {
						return uint16(i<<3 + j + minID), nil
					}
				}
			}
			return 0, errFull
		}
		if compaction != 0 {
			minI, minCount := 0, 0xFF
			for i := 0; i < g.P; i++ {
				if int(work[i]) < minCount {
					minCount, minI = int(work[i]), i
					if minCount == 0 {
						break
					}
				}
			}
			if minCount == compaction {
				return 0, errFull
			}
			if minCount == 0 {
				return uint16(minI*compaction + minID), nil
			}
			minID += minI * compaction
			maxID = minID + compaction
			if maxID-minID <= g.P*8 {
				continue
			}
		}
		compaction = (maxID - minID) / g.P
		clear(work)
		for b := 0; b < g.N; b++ {
			for e := 0; e < g.E; e++ {
				id := s.lu(b, e)
				if id == idFree || id == idDeleted || id&ixFlag == 0 {
					continue
				}
				_, span, f := s.pageHeader(g.pix(b, e))
				if span != 0 || f&(flagIndex|flagFinal|flagDelet) != flagDelet {
					continue
				}
				v := int(id &^ ixFlag)
				if v >= minID && v <= maxID {
					// SPIFFS counts into a byte map one page long; an
					// index past it would spill into its lookup buffer
					// (needs thousands of files): ignored here.
					if i := (v - minID) / compaction; i < g.P {
						work[i]++
					}
				}
			}
		}
	}
}

// create is SPIFFS_open(path, CREAT|TRUNC|RDWR) of a new file:
// spiffs_obj_lu_find_free_obj_id, spiffs_object_create (an index header
// with undefined size), spiffs_object_open_by_page.
func (s *sim) create(name string) error {
	g := &s.g
	id, err := s.newObjID()
	if err != nil {
		return err
	}
	if err := s.gcCheck(g.D); err != nil {
		return err
	}
	pix, err := s.findFree()
	if err != nil {
		return err
	}
	s.setLUOf(pix, id|ixFlag)
	s.allocated++
	p := s.page(pix)
	put16(p, id|ixFlag)
	put16(p[2:], 0)
	p[4] = flagsIndex
	// p[5:8] (alignment) and p[padOff:hdrLen] (tail padding) are
	// uninitialised stack bytes in SPIFFS; we leave them 0xFF, which is
	// what the normalisation rule sets them to (MANIFEST.txt, docs §3.9).
	put32(p[8:], undefinedLen)
	p[12] = typeFile
	nameField := p[g.nameOff : g.nameOff+g.nameLen]
	clear(nameField) // strncpy: the name, then NULs to the end of the field
	copy(nameField, name)
	for i := range g.metaLen { // no meta given: memset 0xFF
		p[g.metaOff+i] = 0xFF
	}
	s.fd = openFile{open: true, id: id, hdrPix: pix, size: undefinedLen, cursorPix: pix, cursorIx: 0}
	return nil
}

// write feeds a file's content the way mkspiffs does: one byte per
// SPIFFS_write, which the file's write cache (SPIFFS_CACHE_WR) collects
// and flushes as one append per page size of bytes, the last one on
// close (spiffs_hydrogen.c SPIFFS_write, spiffs_fflush_cache; docs §3.6b).
func (s *sim) write(data []byte) error {
	for off := 0; off < len(data); off += s.g.P {
		end := min(off+s.g.P, len(data))
		if err := s.append(uint32(off), data[off:end]); err != nil {
			return err
		}
	}
	s.fd.open = false
	return nil
}

// append is spiffs_object_append. The index page being filled lives in
// s.work, as in SPIFFS' fs->work; garbage collection (which uses the same
// buffer) only runs in the gcCheck at the start, and the quick collection
// allocations may trigger only erases fully deleted blocks, so nothing
// moves under the append.
func (s *sim) append(offset uint32, data []byte) error {
	g := &s.g
	fd := &s.fd
	if offset > fd.size {
		offset = fd.size
	}
	if err := s.gcCheck(len(data) + g.D); err != nil {
		return err
	}
	work := s.work
	curIx, prevIx := 0, -1
	curIxPix := fd.hdrPix
	span := int(offset / uint32(g.D))
	pageOff := int(offset % uint32(g.D))
	written := 0
	n := len(data)
	for written < n {
		curIx = g.ixSpan(span)
		if curIx != prevIx {
			if written > 0 {
				// Store the index page the previous pages went into.
				end := offset + uint32(written)
				if prevIx == 0 {
					put32(work[8:], end)
					if offset == 0 {
						if err := s.indexCheck(curIxPix, 0); err != nil {
							return err
						}
						copy(s.page(curIxPix), work)
					} else if _, err := s.updateIndexHdr(fd.id, fd.hdrPix, work, end); err != nil {
						return err
					}
				} else {
					if err := s.indexCheck(curIxPix, prevIx); err != nil {
						return err
					}
					copy(s.page(curIxPix), work)
					s.event(fd.id, int(le16(work[2:])), curIxPix, 0)
					if _, err := s.updateIndexHdr(fd.id, fd.hdrPix, nil, end); err != nil {
						return err
					}
				}
				fd.size = end
			}
			if curIx == 0 {
				copy(work, s.page(curIxPix))
				if err := validIndex(work, fd.id|ixFlag, 0); err != nil {
					return err
				}
			} else {
				// spiffs_span_ix is 16 bits: the span of an undefined
				// size is truncated like in SPIFFS.
				lenIx := uint16(g.ixSpan(int((fd.size - 1) / uint32(g.D))))
				if written > 0 || curIx > int(lenIx) {
					pix, err := s.allocPage(fd.id|ixFlag, curIx, 0xFF&^(flagFinal|flagIndex), nil, 0)
					if err != nil {
						return err
					}
					curIxPix = pix
					for i := range work {
						work[i] = 0xFF
					}
					copy(work, s.page(pix)[:pageHeaderLen])
					s.event(fd.id, curIx, pix, 0)
				} else {
					pix := fd.cursorPix
					if fd.cursorIx != curIx {
						var err error
						if pix, err = s.findIDAndSpan(fd.id|ixFlag, curIx); err != nil {
							return err
						}
					}
					copy(work, s.page(pix))
					if err := validIndex(work, fd.id|ixFlag, curIx); err != nil {
						return err
					}
					curIxPix = pix
				}
				fd.cursorPix, fd.cursorIx = curIxPix, curIx
				fd.size = offset + uint32(written)
			}
			prevIx = curIx
		}
		toWrite := min(n-written, g.D-pageOff)
		var dataPix int
		if pageOff == 0 {
			pix, err := s.allocPage(fd.id, span, 0xFF&^flagFinal, data[written:written+toWrite], 0)
			if err != nil {
				return err
			}
			dataPix = pix
		} else {
			dataPix = int(le16(work[g.tableOff(curIx, span):]))
			if err := s.checkPageRef(dataPix); err != nil {
				return err
			}
			if err := validData(s.page(dataPix), fd.id, span); err != nil {
				return err
			}
			copy(s.page(dataPix)[pageHeaderLen+pageOff:], data[written:written+toWrite])
		}
		put16(work[g.tableOff(curIx, span):], uint16(dataPix))
		if curIx == 0 {
			put32(work[8:], offset+uint32(written))
		}
		pageOff = 0
		span++
		written += toWrite
	}
	end := offset + uint32(written)
	fd.size = end
	fd.cursorPix, fd.cursorIx = curIxPix, curIx
	switch {
	case curIx != 0:
		if err := s.indexCheck(curIxPix, curIx); err != nil {
			return err
		}
		copy(s.page(curIxPix), work)
		s.event(fd.id, int(le16(work[2:])), curIxPix, 0)
		if _, err := s.updateIndexHdr(fd.id, fd.hdrPix, nil, end); err != nil {
			return err
		}
	case offset == 0:
		put32(work[8:], end)
		if err := s.indexCheck(curIxPix, 0); err != nil {
			return err
		}
		copy(s.page(curIxPix), work)
		s.event(fd.id, 0, curIxPix, end)
	default:
		if _, err := s.updateIndexHdr(fd.id, fd.hdrPix, work, end); err != nil {
			return err
		}
	}
	return nil
}

// indexCheck is spiffs_page_index_check.
func (s *sim) indexCheck(pix, span int) error {
	if err := s.checkPageRef(pix); err != nil {
		return err
	}
	return validIndex(s.page(pix), s.fd.id|ixFlag, span)
}
