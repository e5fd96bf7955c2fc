// Package ledger owns the flash ledger: for each board, keyed by its MAC,
// what iotbench last wrote where and verified — each region's offset,
// length, SHA-256 and MD5, the MD5 of every 4 KiB sector, and when. The
// flasher's fast reflash consults it to skip sectors that already hold the
// right bytes. It is a hint, never the truth: the chip is verified after
// every reflash, and a region is forgotten before it is written so a
// write cut short cannot leave a record that lies.
//
// One JSON file per board under xdg.Sub("flash"), written atomically.
package ledger

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/iotbench/iotbench/internal/xdg"
)

// SectorSize is the unit sectors are hashed in: the flash erase unit.
const SectorSize = 4096

// Ledger is a directory of board records.
type Ledger struct{ dir string }

// Open uses iotbench's data directory (xdg.Sub("flash"), which honours
// $IOTBENCH_DATA_DIR).
func Open() (*Ledger, error) {
	dir, err := xdg.Sub("flash")
	if err != nil {
		return nil, fmt.Errorf("flash ledger: %w", err)
	}
	return &Ledger{dir: dir}, nil
}

// At uses dir (tests, tools that keep their own).
func At(dir string) *Ledger { return &Ledger{dir: dir} }

// Dir is where the records live.
func (l *Ledger) Dir() string { return l.dir }

// Board is what the ledger knows about one board.
type Board struct {
	MAC  string `json:"mac"`
	Chip string `json:"chip,omitempty"`
	// FlashID is the JEDEC ID of the flash chip the regions were written
	// to; a different one (the module was swapped, or another board has
	// the same MAC) voids them.
	FlashID uint32   `json:"flash_id,omitempty"`
	Regions []Region `json:"regions"`
}

// Region is one verified write.
type Region struct {
	Offset uint32 `json:"offset"`
	Length int    `json:"length"`
	SHA256 string `json:"sha256"`
	// MD5 covers the Length bytes written; Sectors[i] covers sector i of
	// the region, the last one padded with 0xFF as the erased flash after
	// the data reads.
	MD5     string    `json:"md5"`
	Sectors []string  `json:"sector_md5"`
	Name    string    `json:"name,omitempty"`
	Written time.Time `json:"written"`
}

// End is the first address past the region's last sector.
func (r Region) End() uint64 {
	return uint64(r.Offset) + uint64(len(r.Sectors))*SectorSize
}

// NewRegion describes data as written at offset.
func NewRegion(offset uint32, data []byte, name string, when time.Time) Region {
	sha := sha256.Sum256(data)
	sum := md5.Sum(data)
	return Region{
		Offset: offset, Length: len(data), SHA256: hex.EncodeToString(sha[:]), MD5: hex.EncodeToString(sum[:]),
		Sectors: SectorMD5s(data), Name: name, Written: when.UTC(),
	}
}

// SectorMD5s hashes data in 4 KiB sectors, the last padded with 0xFF.
func SectorMD5s(data []byte) []string {
	n := (len(data) + SectorSize - 1) / SectorSize
	out := make([]string, n)
	for i := range out {
		sec := data[i*SectorSize : min(len(data), (i+1)*SectorSize)]
		if len(sec) < SectorSize {
			sec = append(append([]byte(nil), sec...), bytes.Repeat([]byte{0xFF}, SectorSize-len(sec))...)
		}
		sum := md5.Sum(sec)
		out[i] = hex.EncodeToString(sum[:])
	}
	return out
}

// Key formats a MAC as the ledger's key ("240ac4123456").
func Key(mac [6]byte) string { return hex.EncodeToString(mac[:]) }

func (l *Ledger) path(mac [6]byte) string { return filepath.Join(l.dir, Key(mac)+".json") }

// Load returns the board's record; a board never seen gets an empty one.
// A damaged file is an error naming it (delete it to start over).
func (l *Ledger) Load(mac [6]byte) (*Board, error) {
	p := l.path(mac)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return &Board{MAC: formatMAC(mac)}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("flash ledger %s: %w", p, err)
	}
	bd, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("flash ledger %s: %w (delete the file to start over; the next write records the board again)", p, err)
	}
	if bd.MAC != formatMAC(mac) {
		return nil, fmt.Errorf("flash ledger %s holds board %s, not %s: delete the file", p, bd.MAC, formatMAC(mac))
	}
	return bd, nil
}

// Save writes the board's record atomically.
func (l *Ledger) Save(b *Board) error {
	mac, err := parseMAC(b.MAC)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return fmt.Errorf("flash ledger: %w", err)
	}
	j, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return err
	}
	return xdg.WriteFileAtomic(l.path(mac), append(j, '\n'), 0o600)
}

// maxRegions bounds a record read from disk; a flash has at most a few
// thousand sectors' worth of regions.
const maxRegions = 4096

// Parse reads a board record and checks it is consistent: a MAC, regions
// that do not overlap, and per region a SHA-256, an MD5 and one sector
// MD5 per 4 KiB of its length.
func Parse(b []byte) (*Board, error) {
	var bd Board
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&bd); err != nil {
		return nil, fmt.Errorf("not a flash ledger record: %v", err)
	}
	if _, err := parseMAC(bd.MAC); err != nil {
		return nil, err
	}
	if len(bd.Regions) > maxRegions {
		return nil, fmt.Errorf("%d regions: more than any flash holds", len(bd.Regions))
	}
	for i, r := range bd.Regions {
		switch {
		case r.Offset%SectorSize != 0:
			return nil, fmt.Errorf("region %d: offset 0x%X is not a multiple of 0x1000", i, r.Offset)
		case r.Length <= 0:
			return nil, fmt.Errorf("region %d at 0x%X: length %d", i, r.Offset, r.Length)
		case len(r.Sectors) != (r.Length+SectorSize-1)/SectorSize:
			return nil, fmt.Errorf("region %d at 0x%X: %d sector hashes for %d bytes", i, r.Offset, len(r.Sectors), r.Length)
		case r.End() > 1<<32:
			return nil, fmt.Errorf("region %d at 0x%X runs past 4 GiB", i, r.Offset)
		case !isHex(r.SHA256, 32) || !isHex(r.MD5, 16):
			return nil, fmt.Errorf("region %d at 0x%X: bad SHA-256 or MD5", i, r.Offset)
		}
		for _, s := range r.Sectors {
			if !isHex(s, 16) {
				return nil, fmt.Errorf("region %d at 0x%X: bad sector MD5 %q", i, r.Offset, s)
			}
		}
	}
	sort.SliceStable(bd.Regions, func(i, j int) bool { return bd.Regions[i].Offset < bd.Regions[j].Offset })
	for i := 1; i < len(bd.Regions); i++ {
		if uint64(bd.Regions[i].Offset) < bd.Regions[i-1].End() {
			return nil, fmt.Errorf("regions at 0x%X and 0x%X overlap", bd.Regions[i-1].Offset, bd.Regions[i].Offset)
		}
	}
	return &bd, nil
}

func isHex(s string, n int) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == n && strings.ToLower(s) == s
}

// Put records r, dropping every region it overlaps (their other sectors
// are not worth the risk of a half-true record).
func (b *Board) Put(r Region) {
	b.Forget(r.Offset, len(r.Sectors)*SectorSize)
	b.Regions = append(b.Regions, r)
	sort.SliceStable(b.Regions, func(i, j int) bool { return b.Regions[i].Offset < b.Regions[j].Offset })
}

// Forget drops every region overlapping [offset, offset+size): flash
// there is about to change, or changed in a way not recorded.
func (b *Board) Forget(offset uint32, size int) {
	end := uint64(offset) + uint64(size)
	kept := b.Regions[:0]
	for _, r := range b.Regions {
		if r.End() <= uint64(offset) || uint64(r.Offset) >= end {
			kept = append(kept, r)
		}
	}
	b.Regions = kept
}

// Overlaps reports whether any region overlaps [offset, offset+size).
func (b *Board) Overlaps(offset uint32, size int) bool {
	end := uint64(offset) + uint64(size)
	for _, r := range b.Regions {
		if r.End() > uint64(offset) && uint64(r.Offset) < end {
			return true
		}
	}
	return false
}

// Find returns the region recorded exactly at offset, if any.
func (b *Board) Find(offset uint32) (Region, bool) {
	for _, r := range b.Regions {
		if r.Offset == offset {
			return r, true
		}
	}
	return Region{}, false
}

// SectorMD5 is the recorded MD5 of the sector at addr (a multiple of
// 4096), if a region covers it.
func (b *Board) SectorMD5(addr uint32) (string, bool) {
	for _, r := range b.Regions {
		if uint64(addr) >= uint64(r.Offset) && uint64(addr) < r.End() {
			return r.Sectors[(addr-r.Offset)/SectorSize], true
		}
	}
	return "", false
}

func formatMAC(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

func parseMAC(s string) ([6]byte, error) {
	var m [6]byte
	b, err := hex.DecodeString(strings.ReplaceAll(s, ":", ""))
	if err != nil || len(b) != 6 || formatMAC([6]byte(b)) != s {
		return m, fmt.Errorf("bad board MAC %q in the flash ledger (want aa:bb:cc:dd:ee:ff)", s)
	}
	copy(m[:], b)
	return m, nil
}
