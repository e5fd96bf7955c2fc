package provision

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLedgerRoundTripAndDamage(t *testing.T) {
	l, err := OpenLedger(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if r, err := l.Get("18:fe:34:a1:b2:c3"); r != nil || err != nil {
		t.Fatalf("empty ledger: %v %v", r, err)
	}
	rec := &Record{MAC: "18:fe:34:a1:b2:c3", Thing: "esp8266-a1b2c3", Cloud: "local", Port: 8883,
		Flashed: []FlashedRegion{{Name: "filesystem", Offset: 0x200000, Size: 4096, SHA256: "ab"}}, ImageTime: time.Unix(1795600800, 0).UTC()}
	if err := l.Put(rec); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(filepath.Join(l.Dir(), "18fe34a1b2c3.json"))
	if st == nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("record file mode: %v", st)
	}
	got, err := l.Get("18:FE:34:A1:B2:C3")
	if err != nil || !reflect.DeepEqual(got, rec) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	all, err := l.All()
	if err != nil || len(all) != 1 {
		t.Fatalf("all: %v %v", all, err)
	}
	os.WriteFile(filepath.Join(l.Dir(), "18fe34a1b2c3.json"), []byte("{not json"), 0o600)
	if _, err := l.Get("18:fe:34:a1:b2:c3"); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Fatalf("damaged record: %v", err)
	}
}

// The ledger reads files a user (or a crash) may have damaged.
func FuzzLedgerRecord(f *testing.F) {
	f.Add([]byte(`{"mac":"18:fe:34:a1:b2:c3","thing":"x","flashed":[{"offset":4096,"size":10,"sha256":"ab"}]}`))
	f.Add([]byte(`{"flashed":null,"image_time":"bad"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := OpenLedger(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(l.Dir(), "aabbccddeeff.json"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := l.Get("aa:bb:cc:dd:ee:ff")
		if err != nil || r == nil {
			return
		}
		if err := l.Put(r); err != nil {
			t.Fatalf("a record that was read cannot be written back: %v", err)
		}
		again, err := l.Get("aa:bb:cc:dd:ee:ff")
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if len(again.Flashed) != len(r.Flashed) || again.Thing != r.Thing {
			t.Fatalf("not stable: %+v vs %+v", again, r)
		}
	})
}
