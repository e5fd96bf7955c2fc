package provision

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/iotbench/iotbench/internal/xdg"
)

// Record is what the ledger remembers about one board, keyed by its MAC.
// It holds no secrets: keys stay with the cloud's own record (awsops'
// ledger, the local cloud's store).
type Record struct {
	MAC           string          `json:"mac"`
	Chip          string          `json:"chip"`
	Thing         string          `json:"thing"`
	Cloud         string          `json:"cloud"`
	CertificateID string          `json:"certificate_id"`
	Endpoint      string          `json:"endpoint"`
	Port          int             `json:"port,omitempty"`
	Layout        string          `json:"layout"`
	FS            string          `json:"fs"`
	Flashed       []FlashedRegion `json:"flashed"`
	// ImageTime is the timestamp written into LittleFS images, kept so
	// that rebuilding the same files gives the same bytes.
	ImageTime     time.Time `json:"image_time"`
	ProvisionedAt time.Time `json:"provisioned_at"`
	VerifiedAt    time.Time `json:"verified_at,omitzero"`
}

// FlashedRegion is one region as last written.
type FlashedRegion struct {
	Name   string `json:"name"`
	Offset uint32 `json:"offset"`
	Size   int    `json:"size"`
	SHA256 string `json:"sha256"`
}

// Ledger stores Records as one JSON file per board.
type Ledger struct {
	dir string
	mu  sync.Mutex
}

// OpenLedger opens the ledger in dir ("" = the data directory's boards/).
func OpenLedger(dir string) (*Ledger, error) {
	if dir == "" {
		d, err := xdg.Sub("boards")
		if err != nil {
			return nil, err
		}
		dir = d
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ledger directory: %w", err)
	}
	return &Ledger{dir: dir}, nil
}

// Dir is where the records are.
func (l *Ledger) Dir() string { return l.dir }

func (l *Ledger) path(mac string) string {
	return filepath.Join(l.dir, strings.ReplaceAll(strings.ToLower(mac), ":", "")+".json")
}

// Get returns the board's record, or nil when there is none.
func (l *Ledger) Get(mac string) (*Record, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, err := os.ReadFile(l.path(mac))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("ledger record %s is damaged (%v): delete it and provision again", l.path(mac), err)
	}
	return &r, nil
}

// Put stores the record atomically.
func (l *Ledger) Put(r *Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return xdg.WriteFileAtomic(l.path(r.MAC), append(b, '\n'), 0o600)
}

// All lists every record.
func (l *Ledger) All() ([]*Record, error) {
	ents, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, err
	}
	var out []*Record
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		r, err := l.Get(strings.TrimSuffix(e.Name(), ".json"))
		if err != nil {
			return nil, err
		}
		if r != nil {
			out = append(out, r)
		}
	}
	return out, nil
}
