package localcloud

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// Certificate statuses, as AWS IoT names them. Only ACTIVE connects.
const (
	StatusActive   = "ACTIVE"
	StatusInactive = "INACTIVE"
	StatusRevoked  = "REVOKED"
)

// registry is the local cloud's counterpart of the AWS IoT registry:
// things, certificates (with their status, thing and policies) and
// policies. It lives in one JSON file that `cloud serve` and other
// iotbench processes (provisioning a board while the broker runs) share,
// under an advisory lock.
type registry struct {
	Things       map[string]*thingRecord `json:"things"`
	Certificates map[string]*certRecord  `json:"certificates"`
	Policies     map[string]string       `json:"policies"` // name → document
}

type thingRecord struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	MAC     string    `json:"mac,omitempty"`
	Chip    string    `json:"chip,omitempty"`
}

type certRecord struct {
	ID       string    `json:"id"`
	Thing    string    `json:"thing,omitempty"`
	Status   string    `json:"status"`
	Policies []string  `json:"policies"`
	Created  time.Time `json:"created"`
	NotAfter time.Time `json:"not_after"`
	PEM      string    `json:"pem"`
	// Mirror names the control plane a mirrored certificate comes from
	// (Cloud.Mirror); empty for the local cloud's own.
	Mirror string `json:"mirror,omitempty"`
}

func newRegistry() *registry {
	return &registry{Things: map[string]*thingRecord{}, Certificates: map[string]*certRecord{}, Policies: map[string]string{}}
}

// registryFile reads and writes the registry, caching the parsed copy
// until the file changes.
type registryFile struct {
	path string

	mu     sync.Mutex
	cached *registry
	stamp  fileStamp
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func (f *registryFile) lockPath() string { return f.path + ".lock" }

// load returns the current registry (read-only: callers must not modify
// it) and whether it changed since the last load.
func (f *registryFile) load() (*registry, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := os.Stat(f.path)
	if errors.Is(err, os.ErrNotExist) {
		if f.cached == nil {
			f.cached = newRegistry()
			return f.cached, true, nil
		}
		return f.cached, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	stamp := fileStamp{st.ModTime(), st.Size()}
	if f.cached != nil && stamp == f.stamp {
		return f.cached, false, nil
	}
	r, err := readRegistry(f.path)
	if err != nil {
		return nil, false, err
	}
	f.cached, f.stamp = r, stamp
	return r, true, nil
}

func readRegistry(path string) (*registry, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return newRegistry(), nil
	}
	if err != nil {
		return nil, err
	}
	r := newRegistry()
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("%s is damaged (%v): move it away to start an empty registry", path, err)
	}
	if r.Things == nil {
		r.Things = map[string]*thingRecord{}
	}
	if r.Certificates == nil {
		r.Certificates = map[string]*certRecord{}
	}
	if r.Policies == nil {
		r.Policies = map[string]string{}
	}
	return r, nil
}

// update runs fn on a fresh copy of the registry under the cross-process
// lock and writes the result.
func (f *registryFile) update(fn func(r *registry) error) error {
	if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
		return err
	}
	unlock, err := lockFile(f.lockPath())
	if err != nil {
		return err
	}
	defer unlock()
	r, err := readRegistry(f.path)
	if err != nil {
		return err
	}
	if err := fn(r); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(f.path, append(b, '\n'), 0o644); err != nil {
		return err
	}
	f.mu.Lock()
	f.cached = nil
	f.mu.Unlock()
	return nil
}

func (r *registry) thingCerts(thing string) []*certRecord {
	var out []*certRecord
	for _, c := range r.Certificates {
		if c.Thing == thing {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}
