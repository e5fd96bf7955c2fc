package littlefs

import "fmt"

// This file decodes metadata pairs the way lfs_dir_fetchmatch does.

// mentry is the current state of one id in a metadata pair.
type mentry struct {
	nameTag tag // type1 0x000 tag with chunk < 0x80 (file or directory)
	name    []byte
	special tag // type1 0x000 tag with chunk >= 0x80 (the superblock)
	sdata   []byte
	strTag  tag // struct tag (any 0x2xx supersedes the others)
	strData []byte
	attrs   map[uint8][]byte
}

// mdir is a fetched metadata pair.
type mdir struct {
	pair    [2]uint32 // pair[0] is the block the state was read from
	rev     uint32
	entries []*mentry
	tail    [2]uint32
	split   bool // tail is a hard tail: the directory continues there
	gdelta  [gstateSize]byte
	hasGD   bool
}

func (m *mdir) hasTail() bool { return m.tail[0] != blockNull && m.tail[1] != blockNull }

// logIssue describes why a metadata log stopped before the erased area.
type logIssue struct {
	off int
	msg string
}

type pendingTag struct {
	t    tag
	data []byte
}

// fetch reads a metadata pair: of the two blocks the one with the newer
// revision count (sequence comparison) is used unless it holds no valid
// commit, then the other (lfs_dir_fetchmatch). issue reports a commit that
// failed its CRC, or a tag running off the block, in the block used.
func (r *reader) fetch(pair [2]uint32) (*mdir, *logIssue, error) {
	bc := uint32(r.blockCount)
	if pair[0] >= bc || pair[1] >= bc {
		return nil, nil, fmt.Errorf("metadata pair {%d, %d} is outside the image (%d blocks)", pair[0], pair[1], bc)
	}
	revs := [2]uint32{le32(r.block(pair[0])), le32(r.block(pair[1]))}
	first := 0
	if scmp(revs[1], revs[0]) > 0 {
		first = 1
	}
	var issue0 *logIssue
	for i := 0; i < 2; i++ {
		k := (first + i) % 2
		m, issue := r.parseLog(pair[k], pair[1-k])
		if m != nil {
			if i == 0 {
				return m, issue, nil
			}
			// The newer block was unreadable; littlefs falls back too.
			if issue0 == nil {
				issue0 = &logIssue{msg: fmt.Sprintf("block %d (revision %d) holds no valid commit; using block %d", pair[first], revs[first], pair[k])}
			}
			return m, issue0, nil
		}
		if i == 0 {
			issue0 = issue
		}
	}
	return nil, nil, fmt.Errorf("metadata pair {%d, %d} holds no valid commit (corrupted dir pair)", pair[0], pair[1])
}

// parseLog walks the commits of one metadata block and returns the state
// after the last commit whose CRC matches, or nil if there is none.
func (r *reader) parseLog(blk, other uint32) (*mdir, *logIssue) {
	b := r.block(blk)
	m := &mdir{pair: [2]uint32{blk, other}, rev: le32(b), tail: [2]uint32{blockNull, blockNull}}
	var (
		ptag    = tag(0xffffffff)
		sum     = crc(0xffffffff, b[:4])
		off     = 4
		pending []pendingTag
		ok      bool
		issue   *logIssue
	)
	for {
		if off+4 > len(b) {
			break
		}
		raw := b[off : off+4]
		sum = crc(sum, raw)
		t := tag(be32(raw)) ^ ptag
		if !t.valid() {
			break // erased space or the end of the log
		}
		if off+t.diskSize() > len(b) {
			issue = &logIssue{off: off, msg: fmt.Sprintf("tag %#08x at offset %d runs past the end of the block", uint32(t), off)}
			break
		}
		ptag = t
		data := b[off+4 : off+t.diskSize()]
		if t.type1() == typeCRC {
			if len(data) < 4 {
				issue = &logIssue{off: off, msg: fmt.Sprintf("CRC tag at offset %d is too short", off)}
				break
			}
			if le32(data) != sum {
				issue = &logIssue{off: off, msg: fmt.Sprintf("commit ending at offset %d fails its CRC (stored %#08x, computed %#08x); littlefs ignores it and what follows", off, le32(data), sum)}
				break
			}
			for _, pt := range pending {
				m.apply(pt.t, pt.data)
			}
			pending = pending[:0]
			ok = true
			// The CRC tag's chunk bit 0 flips the expected valid bit of
			// the next tag (SPEC.md "0x5xx LFS_TYPE_CRC").
			ptag ^= tag(t.chunk()&1) << 31
			sum = 0xffffffff
			off += t.diskSize()
			continue
		}
		sum = crc(sum, data)
		pending = append(pending, pendingTag{t, data})
		off += t.diskSize()
	}
	if !ok {
		if issue == nil {
			issue = &logIssue{msg: "no valid commit"}
		}
		return nil, issue
	}
	return m, issue
}

// apply applies one tag of a valid commit. The result equals what
// lfs_dir_getslice finds walking the log backwards: later tags supersede
// earlier ones, create/delete splices shift ids, and a tag with length
// 0x3ff deletes.
func (m *mdir) apply(t tag, data []byte) {
	id := int(t.id())
	grow := func(n int) {
		for len(m.entries) < n {
			m.entries = append(m.entries, &mentry{})
		}
	}
	switch t.type1() {
	case typeName:
		if id == 0x3ff {
			return
		}
		grow(id + 1)
		e := m.entries[id]
		switch {
		case t.chunk() >= 0x80 && t.isDelete():
			e.special, e.sdata = 0, nil
		case t.chunk() >= 0x80:
			e.special, e.sdata = t, data
		case t.isDelete():
			e.nameTag, e.name = 0, nil
		default:
			e.nameTag, e.name = t, data
		}
	case typeSplice:
		if id == 0x3ff {
			return
		}
		switch t.type3() {
		case typeCreate:
			grow(id)
			m.entries = append(m.entries, nil)
			copy(m.entries[id+1:], m.entries[id:])
			m.entries[id] = &mentry{}
		case typeDelete:
			if id < len(m.entries) {
				m.entries = append(m.entries[:id], m.entries[id+1:]...)
			}
		}
	case typeStruct:
		if id == 0x3ff {
			return
		}
		grow(id + 1)
		e := m.entries[id]
		if t.isDelete() {
			e.strTag, e.strData = 0, nil
		} else {
			e.strTag, e.strData = t, data
		}
	case typeUserAttr:
		if id == 0x3ff {
			return
		}
		grow(id + 1)
		e := m.entries[id]
		if e.attrs == nil {
			e.attrs = map[uint8][]byte{}
		}
		if t.isDelete() {
			delete(e.attrs, t.chunk())
		} else {
			e.attrs[t.chunk()] = data
		}
	case typeTail:
		m.split = t.chunk()&1 != 0
		m.tail = [2]uint32{blockNull, blockNull}
		if len(data) >= 8 {
			m.tail = [2]uint32{le32(data[0:]), le32(data[4:])}
		}
	case typeGlobals:
		if t.type3() == typeMoveState {
			m.gdelta = [gstateSize]byte{}
			m.hasGD = !t.isDelete()
			copy(m.gdelta[:], data)
		}
	}
	// Ids are 10 bits; a corrupt log cannot make more than that.
	if len(m.entries) > 0x3ff {
		m.entries = m.entries[:0x3ff]
	}
}

// gstate is littlefs' global state: the XOR of every pair's move-state
// delta (SPEC.md "0x7ff LFS_TYPE_MOVESTATE").
type gstate struct {
	tag  tag
	pair [2]uint32
}

func (g *gstate) xor(d [gstateSize]byte) {
	g.tag ^= tag(le32(d[0:]))
	g.pair[0] ^= le32(d[4:])
	g.pair[1] ^= le32(d[8:])
}

func (g gstate) hasMove() bool   { return g.tag.type1() != 0 }
func (g gstate) orphans() uint32 { return g.tag.size() }

// samePair is lfs_pair_cmp() == 0: pairs sharing any block are the same
// pair (one of them may have been relocated).
func samePair(a, b [2]uint32) bool {
	return a[0] == b[0] || a[1] == b[1] || a[0] == b[1] || a[1] == b[0]
}

func pairKey(p [2]uint32) [2]uint32 {
	if p[0] > p[1] {
		return [2]uint32{p[1], p[0]}
	}
	return p
}
