package awsops

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Ledger is the on-disk record of what this bench provisioned: one folder
// per thing (DIR/ACCOUNT/REGION/THING) holding record.json, the private
// key and the device files. Folders are 0700 and every file 0600, because
// the key is the board's identity. Every write goes to a temporary file
// that is synced and renamed, so a killed run leaves the old or the new
// version, never half of one.
type Ledger struct {
	Dir string
}

// Record is one thing's entry.
type Record struct {
	Version   int    `json:"version"`
	Thing     string `json:"thing"`
	ThingARN  string `json:"thing_arn,omitempty"`
	Partition string `json:"partition"`
	Account   string `json:"account"`
	Region    string `json:"region"`
	MAC       string `json:"mac,omitempty"`
	// KeyType is how the key was made (KeyType values).
	KeyType KeyType `json:"key_type"`
	// PublicKeySHA256 identifies the key without revealing it: the SHA-256
	// of its public half (PKIX DER), hex.
	PublicKeySHA256 string    `json:"public_key_sha256,omitempty"`
	CertificateID   string    `json:"certificate_id,omitempty"`
	CertificateARN  string    `json:"certificate_arn,omitempty"`
	Policy          string    `json:"policy,omitempty"`
	PolicyManaged   bool      `json:"policy_managed,omitempty"`
	Endpoint        string    `json:"endpoint,omitempty"`
	CA              string    `json:"ca,omitempty"`
	OutDir          string    `json:"out_dir,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
	// Steps maps each completed step to when it last completed.
	Steps map[string]time.Time `json:"steps,omitempty"`
	// Pending is a certificate request that was sent and whose answer was
	// not recorded yet: the next run looks for what it made.
	Pending *Pending `json:"pending,omitempty"`
	// Retired are certificates this bench made that must go (replaced,
	// revoked, key lost, or minted by an interrupted request).
	Retired []Retired `json:"retired,omitempty"`
}

// Pending is a certificate request in flight.
type Pending struct {
	Route           KeyType   `json:"route"`
	StartedAt       time.Time `json:"started_at"`
	PublicKeySHA256 string    `json:"public_key_sha256,omitempty"`
}

// Retired is a certificate to deactivate and delete.
type Retired struct {
	CertificateID  string    `json:"certificate_id"`
	CertificateARN string    `json:"certificate_arn"`
	Reason         string    `json:"reason"`
	Since          time.Time `json:"since"`
}

const recordVersion = 1

var (
	certIDRE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
	hexRE     = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ParseRecord reads and checks a record.json.
func ParseRecord(b []byte) (*Record, error) {
	var r Record
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("ledger record: %w", err)
	}
	if dec.More() {
		return nil, errors.New("ledger record: text after the JSON object")
	}
	if r.Version != recordVersion {
		return nil, fmt.Errorf("ledger record: version %d, this iotbench reads version %d", r.Version, recordVersion)
	}
	if err := ValidateThingName(r.Thing); err != nil {
		return nil, fmt.Errorf("ledger record: %w", err)
	}
	if !accountRE.MatchString(r.Account) || !regionRE.MatchString(r.Region) {
		return nil, errors.New("ledger record: bad account or region")
	}
	if r.CertificateID != "" && !certIDRE.MatchString(r.CertificateID) {
		return nil, errors.New("ledger record: bad certificate id")
	}
	if r.PublicKeySHA256 != "" && !hexRE.MatchString(r.PublicKeySHA256) {
		return nil, errors.New("ledger record: bad public key hash")
	}
	switch r.KeyType {
	case "", KeyRSA2048, KeyECP256, KeyAWSGenerated:
	default:
		return nil, fmt.Errorf("ledger record: unknown key type %q", r.KeyType)
	}
	for _, x := range r.Retired {
		if !certIDRE.MatchString(x.CertificateID) {
			return nil, errors.New("ledger record: bad retired certificate id")
		}
	}
	if r.Steps == nil {
		r.Steps = map[string]time.Time{}
	}
	return &r, nil
}

// DefaultLedgerDir is $XDG_DATA_HOME/iotbench/aws, or
// ~/.local/share/iotbench/aws.
func DefaultLedgerDir() (string, error) {
	base := os.Getenv("XDG_DATA_HOME")
	if base == "" || !filepath.IsAbs(base) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("finding the ledger folder: %w (set XDG_DATA_HOME)", err)
		}
		base = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(base, "iotbench", "aws"), nil
}

// OpenLedger creates the ledger folder (0700) if needed.
func OpenLedger(dir string) (*Ledger, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return &Ledger{Dir: dir}, nil
}

// ThingDir is the folder of one thing's record and files.
func (l *Ledger) ThingDir(account, region, thing string) string {
	return filepath.Join(l.Dir, account, region, thing)
}

// Load returns the thing's record, or nil when there is none.
func (l *Ledger) Load(account, region, thing string) (*Record, error) {
	p := filepath.Join(l.ThingDir(account, region, thing), "record.json")
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	r, err := ParseRecord(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (move it away to start over)", p, err)
	}
	if r.Thing != thing || r.Account != account || r.Region != region {
		return nil, fmt.Errorf("%s: the record is for %s in %s/%s", p, r.Thing, r.Account, r.Region)
	}
	return r, nil
}

// Find lists the records of a thing in every account and region.
func (l *Ledger) Find(thing string) ([]*Record, error) {
	matches, _ := filepath.Glob(filepath.Join(l.Dir, "*", "*", thing, "record.json"))
	sort.Strings(matches)
	var out []*Record
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		if r, err := ParseRecord(b); err == nil && r.Thing == thing {
			out = append(out, r)
		}
	}
	return out, nil
}

// Save writes the record atomically.
func (l *Ledger) Save(r *Record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return l.WriteFile(r, "record.json", append(b, '\n'))
}

// Path is the path of a file in the thing's folder.
func (l *Ledger) Path(r *Record, name string) string {
	return filepath.Join(l.ThingDir(r.Account, r.Region, r.Thing), name)
}

// WriteFile writes a file of the thing's folder atomically, 0600.
func (l *Ledger) WriteFile(r *Record, name string, data []byte) error {
	return writeFileAtomic(l.Path(r, name), data)
}

// ReadFile reads a file of the thing's folder; nil when absent.
func (l *Ledger) ReadFile(r *Record, name string) ([]byte, error) {
	b, err := os.ReadFile(l.Path(r, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// Remove deletes the thing's folder, key included.
func (l *Ledger) Remove(r *Record) error {
	return os.RemoveAll(l.ThingDir(r.Account, r.Region, r.Thing))
}

// writeFileAtomic writes 0600 through a synced temporary file and a
// rename, creating missing folders 0700.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
