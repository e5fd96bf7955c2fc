package flasher_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/ledger"
	"github.com/iotbench/iotbench/virtualboard"
)

// openRealTime opens an ESP32-C3 ROM session at 921600 on a virtual board
// running in real time (UART bytes, flash erase/program and the ROM's
// MD5 all take their modelled time).
func openRealTime(b *testing.B) (*virtualboard.Board, *flasher.Loader) {
	board := newBoard(b, virtualboard.Config{Chip: "ESP32-C3", Speed: 1})
	port, name := openTransport(b, board, "inprocess")
	o := flasher.SessionOptions{ConnectOptions: flasher.ConnectOptions{PortName: name}, NoStub: true, Baud: 921600}
	l, _, err := flasher.Open(context.Background(), port, o)
	if err != nil {
		b.Fatal(err)
	}
	return board, l
}

func timedWrite(b *testing.B, l *flasher.Loader, r flasher.Region, o flasher.WriteOptions) time.Duration {
	start := time.Now()
	if err := l.WriteFlash(context.Background(), []flasher.Region{r}, o); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkESP32Reflash1MiB921600 is issue 10's fast-reflash figure, all
// three measured in the same run against one real-time ESP32-C3 ROM at
// 921600 baud: a full compressed, MD5-verified write of 1 MiB of
// firmware-like data; reflashing it unchanged (the ledger says the chip
// holds it: one MD5 of the region); and reflashing it with one sector
// changed (one sector written, then the MD5). Target for both reflashes:
// ≤ 0.05 × the full write.
func BenchmarkESP32Reflash1MiB921600(b *testing.B) {
	data := firmwareLike(1<<20, 11)
	for i := 0; i < b.N; i++ {
		board, l := openRealTime(b)
		led := ledger.At(b.TempDir())
		app := flasher.Region{Addr: 0x10000, Data: data}
		full := timedWrite(b, l, app, flasher.WriteOptions{Ledger: led})
		diff := flasher.WriteOptions{Ledger: led, Diff: &flasher.DiffOptions{}}
		unchanged := timedWrite(b, l, app, diff)
		changed := flasher.Region{Addr: app.Addr, Data: bytes.Clone(data)}
		changed.Data[0x80000] ^= 0xFF
		e0, p0 := board.Flash().Stats()
		one := timedWrite(b, l, changed, diff)
		e1, p1 := board.Flash().Stats()
		if e1-e0 != 1 || p1-p0 != 16 || !bytes.Equal(board.Flash().Read(app.Addr, len(data)), changed.Data) {
			b.Fatalf("one-sector reflash: %d erases, %d programs", e1-e0, p1-p0)
		}
		b.ReportMetric(full.Seconds(), "s_full")
		b.ReportMetric(unchanged.Seconds(), "s_unchanged")
		b.ReportMetric(one.Seconds(), "s_one_sector")
		b.ReportMetric(unchanged.Seconds()/full.Seconds(), "x_unchanged/full")
		b.ReportMetric(one.Seconds()/full.Seconds(), "x_one_sector/full")
		b.ReportMetric(float64(len(data))*8/1000/full.Seconds(), "full_kbit/s")
	}
}

// BenchmarkESP32ProbeStrategies compares ways of finding changed sectors
// with the chip alone (no ledger, no --diff-with) on 1 MiB at 921600:
// per-sector MD5s, whole region then 64 KiB blocks then sectors (the
// default), and bisection, each for an unchanged image and for one
// changed sector, in the same run against the same board.
func BenchmarkESP32ProbeStrategies(b *testing.B) {
	data := firmwareLike(1<<20, 12)
	strategies := []struct {
		name   string
		chunks []int
	}{
		{"sectors", []int{1}},
		{"whole-blocks-sectors", []int{0, 16, 1}},
		{"bisect", []int{0, 128, 64, 32, 16, 8, 4, 2, 1}},
	}
	for i := 0; i < b.N; i++ {
		_, l := openRealTime(b)
		app := flasher.Region{Addr: 0x10000, Data: bytes.Clone(data)}
		timedWrite(b, l, app, flasher.WriteOptions{})
		diff := flasher.WriteOptions{Diff: &flasher.DiffOptions{}}
		for k, s := range strategies {
			restore := flasher.SetProbeChunks(s.chunks)
			unchanged := timedWrite(b, l, app, diff)
			app.Data[0x40000+k*0x1000] ^= 0xFF
			one := timedWrite(b, l, app, diff)
			restore()
			b.ReportMetric(unchanged.Seconds(), fmt.Sprintf("s_unchanged_%s", s.name))
			b.ReportMetric(one.Seconds(), fmt.Sprintf("s_one_sector_%s", s.name))
		}
	}
}
