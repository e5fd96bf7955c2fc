package virtualboard

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/iotbench/iotbench/flasher/image"
)

func newTestBoard(t *testing.T, cfg Config) *Board {
	t.Helper()
	if cfg.Speed == 0 {
		cfg.Speed = 100
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// readFor collects what the host receives: it waits up to 5 s for the
// first byte (a loaded machine may be slow), then until the line has been
// quiet for d.
func readFor(t *testing.T, p *HostPort, d time.Duration) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, 4096)
	first := time.Now().Add(5 * time.Second)
	for {
		wait := d
		if len(out) == 0 {
			wait = time.Until(first)
			if wait <= 0 {
				return out
			}
		}
		p.SetReadTimeout(wait)
		n, err := p.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return out
		}
		out = append(out, buf[:n]...)
	}
}

func TestFlashNORSemantics(t *testing.T) {
	clk := NewClock(1000)
	f, err := NewFlash(clk, 1<<20, W25Q32JVTiming)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Read(0, 4); !bytes.Equal(got, []byte{0xFF, 0xFF, 0xFF, 0xFF}) {
		t.Fatalf("fresh flash not erased: % X", got)
	}
	f.Program(0x100, []byte{0xF0, 0x0F})
	f.Program(0x100, []byte{0x3C, 0xFF}) // can only clear bits
	if got := f.Read(0x100, 2); !bytes.Equal(got, []byte{0x30, 0x0F}) {
		t.Fatalf("program over programmed data = % X, want 30 0F (old AND new)", got)
	}
	// A single page program wraps inside its 256-byte page on the chip;
	// Program splits at page boundaries like the ROM's SPIWrite instead.
	f.Program(0x1FE, []byte{1, 2, 3, 4})
	if got := f.Read(0x1FE, 4); !bytes.Equal(got, []byte{1, 2, 3, 4}) {
		t.Fatalf("cross-page program = % X", got)
	}
	f.EraseSector(0x1234)
	if got := f.Read(0x1000, 1); got[0] != 0xFF {
		t.Fatal("sector not erased")
	}
	if got := f.Read(0x100, 2); !bytes.Equal(got, []byte{0x30, 0x0F}) {
		t.Fatal("erase touched another sector")
	}
	// Direct SPI page program wraps within the page, as the datasheet says.
	f.WaitIdle(context.Background()) // a busy chip ignores WREN and programs
	if st := f.SPI(0x05, 0, nil, 1)[0]; st&1 != 0 {
		t.Fatal("WIP still set after waiting")
	}
	f.SPI(0x06, 0, nil, 0)
	f.SPI(0x02, 0x3FE, []byte{0xAA, 0xBB, 0xCC}, 0)
	if got := f.Read(0x300, 1)[0]; got != 0xCC {
		t.Fatalf("page program did not wrap: 0x%02X at page start", got)
	}
	// Addresses past the end wrap (upper address bits ignored).
	if got := f.Read(1<<20+0x100, 1)[0]; got != 0x30 {
		t.Fatalf("address wrap: got 0x%02X", got)
	}
	if id := f.SPI(0x9F, 0, nil, 3); !bytes.Equal(id, []byte{0xEF, 0x40, 0x14}) {
		t.Fatalf("RDID of a 1 MB part = % X", id)
	}
	e, p := f.Stats()
	if e != 1 || p == 0 {
		t.Fatalf("stats %d %d", e, p)
	}
	// 1 sector erase + 5 page programs (0x100, 0x100, two for the split, one SPI).
	want := W25Q32JVTiming.SectorErase + 5*W25Q32JVTiming.PageProgram
	if got := f.Charged(); got != want {
		t.Fatalf("charged %v, want %v", got, want)
	}
}

func TestROMBannerAt74880AndGarbageAtOtherRates(t *testing.T) {
	b := newTestBoard(t, Config{})
	p, err := b.Port()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetBaudRate(74880)
	b.Reset(true)
	out := readFor(t, p, 150*time.Millisecond)
	if !bytes.Contains(out, []byte("\n ets Jan  8 2013,rst cause:2, boot mode:(1,6)\n\n")) {
		t.Fatalf("banner at 74880: %q", out)
	}
	p.SetBaudRate(115200)
	b.Reset(false)
	out = readFor(t, p, 150*time.Millisecond)
	if len(out) == 0 || bytes.Contains(out, []byte("ets Jan")) {
		t.Fatalf("at 115200 the 74880-baud banner must arrive as junk, got %q", out)
	}
}

// The doc's normal power-on trace (device-side.md §1.9) and a 3-segment
// NONOS trace with a header straddling a read block (a real log, §1.5).
func TestFlashBootTrace(t *testing.T) {
	cases := []struct {
		name string
		segs []image.BuildSegment
		want string
	}{
		{"eboot", []image.BuildSegment{{Addr: 0x4010f000, Data: make([]byte, 3424)}, {Addr: 0x3fff20b8, Data: make([]byte, 40)}},
			"load 0x4010f000, len 3424, room 16 \ntail 0\nchksum 0xef\nload 0x3fff20b8, len 40, room 8 \ntail 0\nchksum 0xef\ncsum 0xef\n"},
		{"nonos", []image.BuildSegment{{Addr: 0x40100000, Data: make([]byte, 816)}, {Addr: 0x3ffe8000, Data: make([]byte, 788)}, {Addr: 0x3ffe8314, Data: make([]byte, 288)}},
			"load 0x40100000, len 816, room 16 \ntail 0\nchksum 0xef\nload 0x3ffe8000, len 788, room 8 \ntail 12\nchksum 0xef\nho 0 tail 12 room 4\nload 0x3ffe8314, len 288, room 12 \ntail 4\nchksum 0xef\ncsum 0xef\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bl, _ := image.NewBuilder("ESP8266")
			bl.Entry = 0x4010f000
			bl.Segments = c.segs
			img, err := bl.Build()
			if err != nil {
				t.Fatal(err)
			}
			b := newTestBoard(t, Config{})
			b.Flash().Load(0, img)
			p, _ := b.Port()
			defer p.Close()
			p.SetBaudRate(74880)
			b.Reset(false)
			out := string(readFor(t, p, 200*time.Millisecond))
			if !strings.Contains(out, "boot mode:(3,6)") || !strings.Contains(out, c.want) {
				t.Fatalf("trace:\n%s\nwant:\n%s", out, c.want)
			}
		})
	}
}

func TestFlashBootChecksumErrorAndErased(t *testing.T) {
	bl, _ := image.NewBuilder("ESP8266")
	bl.Segments = []image.BuildSegment{{Addr: 0x40100000, Data: []byte{1, 2, 3, 4}}}
	img, _ := bl.Build()
	img[len(img)-1] ^= 0xFF
	b := newTestBoard(t, Config{})
	b.Flash().Load(0, img)
	p, _ := b.Port()
	defer p.Close()
	p.SetBaudRate(74880)
	b.Reset(false)
	out := string(readFor(t, p, 150*time.Millisecond))
	if !strings.Contains(out, "csum err\nets_main.c\n") {
		t.Fatalf("corrupt image: %q", out)
	}
	b.Flash().EraseChip()
	b.Reset(false)
	out = string(readFor(t, p, 150*time.Millisecond))
	if !strings.HasSuffix(out, "boot mode:(3,6)\n\n") {
		t.Fatalf("erased flash should show the banner only: %q", out)
	}
}

// A byte at 115200 takes 10/115200 s; 1000 bytes ≈ 86.8 ms of board time.
func TestUARTTiming(t *testing.T) {
	clk := NewClock(10)
	l := newLine(clk)
	start := clk.Now()
	l.send(make([]byte, 1000), 115200)
	buf := make([]byte, 2000)
	got := 0
	for got < 1000 {
		n, err := l.recv(context.Background(), buf, rxState{baud: func() int { return 115200 }}, time.Second)
		if err != nil || n == 0 {
			t.Fatalf("recv: %d %v", n, err)
		}
		got += n
	}
	el := clk.Now() - start
	want := 1000 * byteTime(115200)
	if el < want || el > want+30*time.Millisecond {
		t.Fatalf("1000 bytes took %v of board time, want about %v", el, want)
	}
}

func TestResetCircuit(t *testing.T) {
	b := newTestBoard(t, Config{})
	wait := func() { time.Sleep(20 * time.Millisecond) }
	// Classic reset (esptool, §6.1).
	b.SetDTR(false)
	b.SetRTS(true)
	wait()
	b.SetDTR(true)
	b.SetRTS(false) // EN up with IO0 low
	time.Sleep(50 * time.Millisecond)
	b.SetDTR(false)
	wait()
	if b.BootMode() != 1 {
		t.Fatalf("classic reset: boot mode %d, want 1 (download)", b.BootMode())
	}
	// Both lines asserted is not a reset.
	b.SetLines(true, true)
	wait()
	b.SetLines(false, false)
	wait()
	if b.BootMode() != 1 {
		t.Fatalf("DTR+RTS together changed the strap to %d", b.BootMode())
	}
	// Hard reset: RTS pulse, IO0 released → flash boot.
	b.SetRTS(true)
	wait()
	b.SetRTS(false)
	wait()
	if b.BootMode() != 3 {
		t.Fatalf("hard reset: boot mode %d, want 3", b.BootMode())
	}
	// A board without the auto-reset circuit ignores the lines.
	nb := newTestBoard(t, Config{NoAutoReset: true})
	wait()
	nb.SetLines(false, true)
	wait()
	nb.SetLines(true, false)
	wait()
	if nb.BootMode() != 3 || strings.Contains(strings.Join(nb.Events(), "\n"), "EN low") {
		t.Fatalf("no-auto-reset board reacted to lines: strap %d events %v", nb.BootMode(), nb.Events())
	}
}
