package awsops

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLedgerRoundTrip(t *testing.T) {
	l, err := OpenLedger(filepath.Join(t.TempDir(), "l"))
	if err != nil {
		t.Fatal(err)
	}
	r := &Record{Version: recordVersion, Thing: "t1", Account: "123456789012", Region: "eu-west-1", Partition: "aws",
		KeyType: KeyECP256, CreatedAt: time.Now().UTC(), Steps: map[string]time.Time{"thing": time.Now().UTC()},
		Pending: &Pending{Route: KeyECP256, StartedAt: time.Now().UTC()}}
	if err := l.Save(r); err != nil {
		t.Fatal(err)
	}
	got, err := l.Load(r.Account, r.Region, r.Thing)
	if err != nil || got == nil || got.Thing != "t1" || got.Pending == nil {
		t.Fatalf("%+v %v", got, err)
	}
	st, _ := os.Stat(l.Path(r, "record.json"))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("record mode %v", st.Mode().Perm())
	}
	if none, err := l.Load(r.Account, r.Region, "t2"); none != nil || err != nil {
		t.Errorf("missing record: %v %v", none, err)
	}
	// A damaged record is an error that says what to do, not a crash.
	os.WriteFile(l.Path(r, "record.json"), []byte(`{"version":1,`), 0o600)
	if _, err := l.Load(r.Account, r.Region, r.Thing); err == nil {
		t.Error("damaged record accepted")
	}
}

func FuzzParseRecord(f *testing.F) {
	good, _ := json.Marshal(&Record{Version: recordVersion, Thing: "esp8266-a1b2c3", Account: "123456789012", Region: "eu-west-1",
		Partition: "aws", KeyType: KeyRSA2048, CertificateID: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		Retired: []Retired{{CertificateID: "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"}}})
	f.Add(good)
	f.Add([]byte(`{"version":1,"thing":"x","account":"123456789012","region":"eu-west-1","key_type":"ec-p256","pending":{"route":"aws-rsa2048","started_at":"2026-11-25T00:00:00Z"}}`))
	f.Add([]byte(`{"version":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRecord(b)
		if err != nil {
			return
		}
		if ValidateThingName(r.Thing) != nil || r.Steps == nil {
			t.Fatalf("accepted an invalid record: %+v", r)
		}
		// What parses survives a save and a load.
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseRecord(again); err != nil {
			t.Fatalf("re-encoded record does not parse: %v\n%s", err, again)
		}
	})
}
