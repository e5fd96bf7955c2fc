package virtualboard

import (
	"bytes"
	"context"
	"testing"

	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/otadata"
)

// otadataBytes is an otadata partition holding e0 and e1 (nil = erased).
func otadataBytes(e0, e1 *otadata.Entry) []byte {
	b := bytes.Repeat([]byte{0xFF}, otadata.Size)
	if e0 != nil {
		copy(b, e0.Marshal())
	}
	if e1 != nil {
		copy(b[otadata.SectorSize:], e1.Marshal())
	}
	return b
}

func entry(seq, state uint32) *otadata.Entry {
	e := otadata.NewEntry(seq, state)
	return &e
}

// esp_ota_set_boot_partition writes the inactive sector with the next seq
// for the slot, leaving the active one as it was; setting the slot that
// already boots changes nothing but its own sector.
func TestSetBootPartition(t *testing.T) {
	pt := defaultTable(t)
	fl, err := NewFlash(NewClock(1000), 4<<20, W25Q32JVTiming)
	if err != nil {
		t.Fatal(err)
	}
	ota, _ := pt.ByLabel("otadata")
	app0, _ := pt.ByLabel("app0")
	app1, _ := pt.ByLabel("app1")
	sel := func() otadata.Selection {
		t.Helper()
		s, err := otadata.Select(pt, fl.Read(ota.Offset, int(ota.Size)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ctx := context.Background()
	// Erased otadata: sector 0 gets slot+1.
	if err := SetBootPartition(ctx, fl, pt, app1); err != nil {
		t.Fatal(err)
	}
	if s := sel(); s.Index != 1 || s.Active != 0 || s.Entries[0].Seq != 2 {
		t.Fatalf("after app1 on erased otadata: %+v", s)
	}
	steps := []struct {
		p            layout.Partition
		index, seq   int
		activeSector int
	}{{app0, 0, 3, 1}, {app1, 1, 4, 0}, {app1, 1, 4, 0}, {app0, 0, 5, 1}}
	for i, st := range steps {
		if err := SetBootPartition(ctx, fl, pt, st.p); err != nil {
			t.Fatal(err)
		}
		s := sel()
		if s.Index != st.index || s.Active != st.activeSector || s.Entries[s.Active].Seq != uint32(st.seq) {
			t.Fatalf("step %d (%s): index %d active %d seq %d, want %d %d %d", i, st.p.Label, s.Index, s.Active, s.Entries[s.Active].Seq, st.index, st.activeSector, st.seq)
		}
		// arduino-esp32's apps are built with app rollback: the entry is
		// NEW in flash, and the next boot makes it PENDING_VERIFY.
		raw, _ := otadata.Parse(fl.Read(ota.Offset, int(ota.Size)))
		if raw[s.Active].State != otadata.StateNew {
			t.Fatalf("step %d: state %s in flash, want NEW", i, otadata.StateName(raw[s.Active].State))
		}
		if len(s.Writes) != 1 || s.Writes[0].Sector != s.Active || s.Entries[s.Active].State != otadata.StatePendingVerify {
			t.Fatalf("step %d: the bootloader's writes %+v, want otadata[%d] made PENDING_VERIFY", i, s.Writes, s.Active)
		}
	}
	if next, _ := otadata.NextUpdatePartition(pt, app0); next.Label != "app1" {
		t.Fatalf("next after app0: %s", next.Label)
	}
	if next, _ := otadata.NextUpdatePartition(pt, app1); next.Label != "app0" {
		t.Fatalf("next after app1: %s", next.Label)
	}
	nvs, _ := pt.ByLabel("nvs")
	if err := SetBootPartition(ctx, fl, pt, nvs); err == nil {
		t.Fatal("nvs accepted as a boot partition")
	}
}
