package flasher_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/virtualboard"
)

// firmwareLike makes data that compresses like an ESP8266 application
// (esptool reports ratios around 0.6–0.75 for real firmware): Xtensa-like
// instruction words from a limited repertoire with random operands,
// literal pools, strings and zero padding.
func firmwareLike(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 3))
	ops := make([][3]byte, 64)
	for i := range ops {
		ops[i] = [3]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}
	}
	words := []string{"WiFi", "connected", "error", "mqtt", "publish", "topic", "iotbench/", "telemetry", "%s:%d", "timeout", "BearSSL", "heap"}
	var b bytes.Buffer
	for b.Len() < n {
		switch k := r.IntN(100); {
		case k < 78: // a run of instructions; the low operand byte varies
			for i := 0; i < 8+r.IntN(24); i++ {
				op := ops[r.IntN(len(ops))]
				if r.IntN(2) == 0 {
					op[2] ^= byte(r.IntN(16))
				}
				b.Write(op[:])
			}
		case k < 88: // literal pool: addresses and constants
			for i := 0; i < 2+r.IntN(6); i++ {
				v := 0x40200000 + r.Uint32N(0x80000)
				b.Write([]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)})
			}
		case k < 97:
			b.WriteString(words[r.IntN(len(words))])
			b.WriteByte(0)
		default:
			b.Write(make([]byte, 4+r.IntN(60)))
		}
	}
	return b.Bytes()[:n]
}

func compressedRatio(p []byte) float64 {
	var buf bytes.Buffer
	w, _ := zlib.NewWriterLevel(&buf, 9)
	w.Write(p)
	w.Close()
	return float64(buf.Len()) / float64(len(p))
}

// BenchmarkROMWrite1MiB115200 writes 1 MiB of random data through the
// ESP8266 ROM loader at 115200 baud on a virtual board running in real
// time, and reports how long it took as a ratio to the physical limit:
// the wire time of every byte sent and received (10 bits per byte) plus
// the erase and program time the flash model charged. Target ≤ 1.03.
func BenchmarkROMWrite1MiB115200(b *testing.B) {
	data := randomBytes(42, 1<<20)
	for i := 0; i < b.N; i++ {
		board := newBoard(b, virtualboard.Config{Speed: 1})
		port, name := openTransport(b, board, "inprocess")
		o := flasher.SessionOptions{ConnectOptions: flasher.ConnectOptions{PortName: name}, NoStub: true}
		l, _, err := flasher.Open(context.Background(), port, o)
		if err != nil {
			b.Fatal(err)
		}
		tx0, rx0 := l.WireBytes()
		charged0 := board.Flash().Charged()
		start := time.Now()
		if err := l.WriteFlash(context.Background(), []flasher.Region{{Addr: 0, Data: data}}, flasher.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		tx, rx := l.WireBytes()
		wire := time.Duration(float64(tx-tx0+rx-rx0) * 10 / 115200 * float64(time.Second))
		flash := board.Flash().Charged() - charged0
		limit := wire + flash
		b.ReportMetric(elapsed.Seconds()/limit.Seconds(), "x_limit")
		b.ReportMetric(elapsed.Seconds(), "s_elapsed")
		b.ReportMetric(wire.Seconds(), "s_wire")
		b.ReportMetric(flash.Seconds(), "s_flash")
		b.ReportMetric(float64(len(data))*8/1000/elapsed.Seconds(), "kbit/s")
		if !bytes.Equal(board.Flash().Read(0, len(data)), data) {
			b.Fatal("flash differs")
		}
	}
}

// BenchmarkStubWrite1MiB921600 writes 1 MiB of firmware-like data with
// the stub at 921600 baud, compressed, MD5-verified, on a real-time
// virtual board, and reports the effective rate (uncompressed bits over
// elapsed time, as esptool prints it).
func BenchmarkStubWrite1MiB921600(b *testing.B) {
	data := firmwareLike(1<<20, 7)
	for i := 0; i < b.N; i++ {
		board := newBoard(b, virtualboard.Config{Speed: 1})
		port, name := openTransport(b, board, "inprocess")
		o := flasher.SessionOptions{ConnectOptions: flasher.ConnectOptions{PortName: name}, StubFile: writeTestStub(b), Baud: 921600}
		l, _, err := flasher.Open(context.Background(), port, o)
		if err != nil {
			b.Fatal(err)
		}
		tx0, rx0 := l.WireBytes()
		start := time.Now()
		if err := l.WriteFlash(context.Background(), []flasher.Region{{Addr: 0, Data: data}}, flasher.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		tx, rx := l.WireBytes()
		b.ReportMetric(float64(len(data))*8/1000/elapsed.Seconds(), "effective_kbit/s")
		b.ReportMetric(compressedRatio(data), "compress_ratio")
		b.ReportMetric(elapsed.Seconds(), "s_elapsed")
		b.ReportMetric(float64(tx-tx0+rx-rx0)*10/921600/elapsed.Seconds(), "wire_busy")
	}
}

func TestFirmwareLikeCompressesLikeFirmware(t *testing.T) {
	r := compressedRatio(firmwareLike(1<<20, 7))
	if r < 0.55 || r > 0.8 {
		t.Fatalf("compression ratio %.2f, want 0.55–0.8 like real ESP8266 applications", r)
	}
	t.Logf("ratio %.3f", r)
}
