package flasher_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"sync"
	"testing"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/slip"
	"github.com/iotbench/iotbench/virtualboard"
)

// recorder decodes every request the flasher writes.
type recorder struct {
	flasher.Port
	mu   sync.Mutex
	dec  slip.Decoder
	reqs []flasher.Request
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.dec.Feed(p, func(it slip.Item) {
		if it.Frame != nil {
			if q, err := flasher.ParseRequest(it.Frame); err == nil {
				r.reqs = append(r.reqs, q)
			}
		}
	})
	r.mu.Unlock()
	return r.Port.Write(p)
}

func (r *recorder) SetDTRRTS(dtr, rts bool) error {
	return r.Port.(flasher.LinePairSetter).SetDTRRTS(dtr, rts)
}

func (r *recorder) since(n int) []flasher.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]flasher.Request(nil), r.reqs[n:]...)
}

func words(b []byte) []uint32 {
	var w []uint32
	for i := 0; i+4 <= len(b); i += 4 {
		w = append(w, binary.LittleEndian.Uint32(b[i:]))
	}
	return w
}

func eqWords(a []uint32, b ...uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The packets esptool sends for a 5000-byte write at 0x0
// (esp-serial-protocol.md §16.6 ROM, §16.7 stub): same commands, same
// arguments, same padding.
func TestWriteTranscriptMatchesEsptool(t *testing.T) {
	data := randomBytes(9, 5000)
	t.Run("rom", func(t *testing.T) {
		b := newBoard(t, virtualboard.Config{})
		hp, _ := b.Port()
		defer hp.Close()
		rec := &recorder{Port: hp}
		o := sessionOptions("rec", &collector{})
		o.NoStub = true
		l, _, err := flasher.Open(context.Background(), rec, o)
		if err != nil {
			t.Fatal(err)
		}
		n := len(rec.since(0))
		if err := l.WriteFlash(context.Background(), []flasher.Region{{Addr: 0, Data: data}}, flasher.WriteOptions{Verify: flasher.VerifyNone}); err != nil {
			t.Fatal(err)
		}
		reqs := rec.since(n)
		if len(reqs) != 6 {
			t.Fatalf("%d requests, want FLASH_BEGIN + 5 FLASH_DATA and no FLASH_END", len(reqs))
		}
		if reqs[0].Op != flasher.OpFlashBegin || !eqWords(words(reqs[0].Data), 0x1000, 5, 0x400, 0) {
			t.Fatalf("FLASH_BEGIN %v, want erase 0x1000 (the workaround), 5 packets of 0x400 at 0, 16 bytes", words(reqs[0].Data))
		}
		for i, q := range reqs[1:] {
			if q.Op != flasher.OpFlashData || len(q.Data) != 1040 || !eqWords(words(q.Data[:16]), 1024, uint32(i), 0, 0) {
				t.Fatalf("FLASH_DATA %d: op %02X len %d header %v", i, q.Op, len(q.Data), words(q.Data[:16]))
			}
			if q.Checksum != flasher.Checksum(q.Data[16:]) {
				t.Fatalf("FLASH_DATA %d checksum", i)
			}
		}
		last := reqs[5].Data[16:]
		if !bytes.Equal(last[:904], data[4096:]) || !bytes.Equal(last[904:], bytes.Repeat([]byte{0xFF}, 120)) {
			t.Fatal("last packet must carry the final 904 bytes then 120 × 0xFF")
		}
	})
	t.Run("stub", func(t *testing.T) {
		b := newBoard(t, virtualboard.Config{})
		hp, _ := b.Port()
		defer hp.Close()
		rec := &recorder{Port: hp}
		o := sessionOptions("rec", &collector{})
		o.StubFile = writeTestStub(t)
		l, _, err := flasher.Open(context.Background(), rec, o)
		if err != nil {
			t.Fatal(err)
		}
		n := len(rec.since(0))
		if err := l.WriteFlash(context.Background(), []flasher.Region{{Addr: 0, Data: data}}, flasher.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		reqs := rec.since(n)
		ops := []byte{flasher.OpSPISetParams, flasher.OpFlashDeflBegin, flasher.OpFlashDeflData, flasher.OpFlashDeflEnd, flasher.OpSPIFlashMD5}
		if len(reqs) != len(ops) {
			t.Fatalf("%d requests: %v", len(reqs), reqs)
		}
		for i, op := range ops {
			if reqs[i].Op != op {
				t.Fatalf("request %d is %s, want %s", i, flasher.OpName(reqs[i].Op), flasher.OpName(op))
			}
		}
		if !eqWords(words(reqs[0].Data), 0, 0x400000, 0x10000, 0x1000, 0x100, 0xFFFF) {
			t.Fatalf("SPI_SET_PARAMS %v", words(reqs[0].Data))
		}
		if !eqWords(words(reqs[1].Data), 5000, 1, 0x4000, 0, 0) {
			t.Fatalf("FLASH_DEFL_BEGIN %v, want exact size 5000, 1 packet, 0x4000, offset 0, encrypted 0 (20 bytes)", words(reqs[1].Data))
		}
		comp := reqs[2].Data[16:]
		if comp[0] != 0x78 || comp[1] != 0xDA || int(words(reqs[2].Data[:4])[0]) != len(comp) {
			t.Fatalf("FLASH_DEFL_DATA must carry an unpadded zlib level-9 stream (78 DA…), got % X… len word %d", comp[:2], words(reqs[2].Data[:4])[0])
		}
		if !eqWords(words(reqs[3].Data), 1) || !eqWords(words(reqs[4].Data), 0, 5000, 0, 0) {
			t.Fatalf("FLASH_DEFL_END %v / MD5 %v", words(reqs[3].Data), words(reqs[4].Data))
		}
	})
}
