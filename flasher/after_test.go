package flasher_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/virtualboard"
)

// --after no-reset-stub leaves the stub running; the next session syncs
// with it (all SYNC values 0) and does not upload it again (§6.3, §11).
func TestStubStaysRunningAcrossSessions(t *testing.T) {
	b := newBoard(t, virtualboard.Config{})
	port, name := openTransport(t, b, "inprocess")
	o := sessionOptions(name, &collector{})
	o.StubFile = writeTestStub(t)
	l, _, err := flasher.Open(context.Background(), port, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.After(flasher.AfterNoResetStub); err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	o2 := sessionOptions(name, c)
	o2.Before = flasher.BeforeNoReset
	o2.StubFile = o.StubFile
	l2, _, err := flasher.Open(context.Background(), port, o2)
	if err != nil {
		t.Fatal(err)
	}
	if !l2.IsStub() {
		t.Fatal("second session did not detect the running stub")
	}
	for _, e := range c.events {
		if s, ok := e.(flasher.StubEvent); ok && s.Source != "already running" {
			t.Fatalf("stub uploaded again: %+v", s)
		}
	}
	// --after no-reset with a stub reboots it back into the ROM loader.
	if err := l2.After(flasher.AfterNoReset); err != nil {
		t.Fatal(err)
	}
	o3 := sessionOptions(name, &collector{})
	o3.Before, o3.NoStub = flasher.BeforeNoReset, true
	l3, _, err := flasher.Open(context.Background(), port, o3)
	if err != nil || l3.IsStub() {
		t.Fatalf("after no-reset the ROM should answer: stub=%v err=%v", l3 != nil && l3.IsStub(), err)
	}
}

// --after soft-reset on the ROM: FLASH_BEGIN(0,0) + FLASH_END(1) runs the
// application from flash without a reset banner.
func TestSoftResetRunsUserCode(t *testing.T) {
	b := newBoard(t, virtualboard.Config{})
	port, name := openTransport(t, b, "inprocess")
	o := sessionOptions(name, &collector{})
	o.NoStub = true
	l, _, err := flasher.Open(context.Background(), port, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.After(flasher.AfterSoftReset); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if ev := strings.Join(b.Events(), "\n"); !strings.Contains(ev, "FLASH_END(run user code)") {
		t.Fatalf("board events: %s", ev)
	}
}
