package localcloud

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Record is one stored telemetry message: the local counterpart of the
// DynamoDB item the AWS rule writes (SELECT *, topic(2) AS device,
// timestamp() AS ts): the payload's fields plus device and ts.
type Record struct {
	Device  string          `json:"device"`
	TS      int64           `json:"ts"` // epoch milliseconds, receive time
	Topic   string          `json:"topic"`
	Payload json.RawMessage `json:"payload"`
}

// Time is TS as a time.
func (r Record) Time() time.Time { return time.UnixMilli(r.TS) }

// Telemetry is an embedded, file-backed time-series store: one JSON-lines
// file per thing per UTC day (telemetry/<thing>/<yyyy-mm-dd>.jsonl), so a
// query reads only the days it covers, appends are crash-safe (a torn last
// line is skipped), and another process can read while the broker writes.
type Telemetry struct {
	dir string

	mu    sync.Mutex
	files map[string]*os.File
}

// maxOpenFiles bounds the append handles kept open (one per thing-day).
const maxOpenFiles = 64

func newTelemetry(dir string) *Telemetry {
	return &Telemetry{dir: dir, files: map[string]*os.File{}}
}

// OpenTelemetry opens a store in dir (for tests and tools).
func OpenTelemetry(dir string) *Telemetry { return newTelemetry(dir) }

func (t *Telemetry) thingDir(thing string) string {
	// Thing names may hold ':' (AWS allows it); keep file names portable.
	return filepath.Join(t.dir, url.PathEscape(strings.ReplaceAll(thing, ":", "%3A")))
}

func dayFile(ts time.Time) string { return ts.UTC().Format("2006-01-02") + ".jsonl" }

// Append stores one record.
func (t *Telemetry) Append(r Record) error {
	if err := CheckThingName(r.Device); err != nil {
		return err
	}
	if !json.Valid(r.Payload) {
		return fmt.Errorf("payload is not JSON")
	}
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	path := filepath.Join(t.thingDir(r.Device), dayFile(r.Time()))
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.files[path]
	if f == nil {
		if len(t.files) >= maxOpenFiles {
			t.closeAllLocked()
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		f, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		t.files[path] = f
	}
	// One write per record: O_APPEND keeps concurrent readers seeing
	// whole lines or a torn last line, never interleaved ones.
	_, err = f.Write(line)
	return err
}

func (t *Telemetry) closeAllLocked() {
	for p, f := range t.files {
		f.Close()
		delete(t.files, p)
	}
}

// Close closes the append handles.
func (t *Telemetry) Close() error {
	t.mu.Lock()
	t.closeAllLocked()
	t.mu.Unlock()
	return nil
}

// Query returns a thing's records with from ≤ ts ≤ to (a zero from means
// the beginning), oldest first or newest first, at most limit (0: all).
func (t *Telemetry) Query(thing string, from, to time.Time, limit int, newestFirst bool) ([]Record, error) {
	if err := CheckThingName(thing); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(t.thingDir(thing))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var days []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".jsonl") {
			continue
		}
		d, err := time.Parse("2006-01-02", strings.TrimSuffix(name, ".jsonl"))
		if err != nil {
			continue
		}
		if (!from.IsZero() && d.Add(24*time.Hour).Before(from.UTC())) || d.After(to.UTC()) {
			continue
		}
		days = append(days, name)
	}
	sort.Strings(days)
	if newestFirst {
		sort.Sort(sort.Reverse(sort.StringSlice(days)))
	}
	fromMS, toMS := int64(0), to.UnixMilli()
	if !from.IsZero() {
		fromMS = from.UnixMilli()
	}
	var out []Record
	for _, d := range days {
		recs, err := readDay(filepath.Join(t.thingDir(thing), d), fromMS, toMS)
		if err != nil {
			return nil, err
		}
		if newestFirst {
			sort.SliceStable(recs, func(i, j int) bool { return recs[i].TS > recs[j].TS })
		} else {
			sort.SliceStable(recs, func(i, j int) bool { return recs[i].TS < recs[j].TS })
		}
		out = append(out, recs...)
		if limit > 0 && len(out) >= limit {
			return out[:limit], nil
		}
	}
	return out, nil
}

func readDay(path string, fromMS, toMS int64) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Record
	rd := bufio.NewReaderSize(f, 64*1024)
	for {
		line, err := rd.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			r, perr := ParseRecord(bytes.TrimSpace(line))
			if perr == nil && r.TS >= fromMS && r.TS <= toMS {
				out = append(out, r)
			}
		}
		// A last line without '\n' is being written or was torn by a
		// crash: skip it.
		if err != nil {
			break
		}
	}
	return out, nil
}

// ParseRecord reads one stored line; it is strict because the files can
// be edited or damaged by hand.
func ParseRecord(line []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		return Record{}, err
	}
	if CheckThingName(r.Device) != nil {
		return Record{}, fmt.Errorf("bad device %q", r.Device)
	}
	if len(r.Payload) == 0 || !json.Valid(r.Payload) {
		return Record{}, fmt.Errorf("no JSON payload")
	}
	return r, nil
}

func sortStrings(s []string) { sort.Strings(s) }
