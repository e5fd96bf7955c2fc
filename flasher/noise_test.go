package flasher_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/virtualboard"
)

// Line noise at one corrupted-or-dropped byte in 20,000, in both
// directions: each run must end either verified-correct or with a clear
// error — never with success and wrong bytes in flash.
func TestLineNoiseNeverSilentlyCorrupts(t *testing.T) {
	const runs = 50
	for _, mode := range []string{"rom", "stub", "esp32rom", "esp32reflash"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			var ok, failed, corrupted int
			for run := 0; run < runs; run++ {
				outcome, msg := noisyWrite(t, mode, uint64(run+1))
				switch outcome {
				case "ok":
					ok++
				case "error":
					failed++
					t.Logf("run %d: clear error: %s", run, msg)
				default:
					corrupted++
					t.Errorf("run %d: %s", run, msg)
				}
			}
			t.Logf("%s mode: %d verified-correct, %d clear errors, %d silent corruptions out of %d runs", mode, ok, failed, corrupted, runs)
			if ok < runs/2 {
				t.Errorf("only %d of %d runs succeeded at this noise level: retries are not doing their job", ok, runs)
			}
		})
	}
}

func noisyWrite(t *testing.T, mode string, seed uint64) (string, string) {
	noise := virtualboard.Noise{DropRate: 1.0 / 40000, CorruptRate: 1.0 / 40000, Seed: seed}
	cfg := virtualboard.Config{Noise: noise}
	if strings.HasPrefix(mode, "esp32") {
		cfg.Chip = "ESP32-C3"
	}
	if mode == "esp32reflash" {
		cfg.Noise = virtualboard.Noise{} // the old image goes in on a clean line
	}
	b := newBoard(t, cfg)
	defer b.Close()
	b.Reset(true) // BOOT held: the chip waits in its loader
	port, name := openTransport(t, b, "inprocess")
	o := sessionOptions(name, &collector{})
	o.Before = flasher.BeforeNoReset
	size := 8*1024 + int(seed%7)*333
	verify := flasher.VerifyReadBack
	switch mode {
	case "stub":
		o.StubFile = writeTestStub(t)
		size = 48*1024 + int(seed%7)*333
		verify = flasher.VerifyAuto
	case "esp32rom", "esp32reflash":
		o.NoStub = true
		size = 48*1024 + int(seed%7)*333
		verify = flasher.VerifyAuto
	default:
		o.NoStub = true
	}
	data := randomBytes(seed+100, size)
	addr := uint32(0x10000)
	l, _, err := flasher.Open(context.Background(), port, o)
	wo := flasher.WriteOptions{Verify: verify}
	if err == nil && mode == "esp32reflash" {
		// Fast reflash over a noisy line: a changed sector in the middle
		// and a wrong --diff-with claim for another one; the MD5 probes
		// and the final verification travel through the noise too.
		old := bytes.Clone(data)
		old[5*4096] ^= 1
		if err = l.WriteFlash(context.Background(), []flasher.Region{{Addr: addr, Data: old}}, wo); err == nil {
			b.SetNoise(noise)
			claimed := bytes.Clone(data)
			claimed[9*4096] ^= 1
			wo.Diff = &flasher.DiffOptions{With: map[uint32][]byte{addr: claimed}}
		}
	}
	if err == nil {
		err = l.WriteFlash(context.Background(), []flasher.Region{{Addr: addr, Data: data}}, wo)
	}
	got := b.Flash().Read(addr, len(data))
	if err != nil {
		if !clearError(err) {
			return "unclear", fmt.Sprintf("unclear error %T: %v", err, err)
		}
		return "error", err.Error()
	}
	if !bytes.Equal(got, data) {
		dropped, corr := b.NoiseStats()
		return "corrupt", fmt.Sprintf("write reported success but flash differs at +0x%X (noise: %d dropped, %d corrupted)", firstDiff(got, data), dropped, corr)
	}
	return "ok", ""
}

// clearError: a typed error that names what failed.
func clearError(err error) bool {
	var ce *flasher.CommandError
	var te *flasher.TimeoutError
	var ve *flasher.VerifyError
	var con *flasher.ConnectError
	var chip *flasher.ChipError
	var se *flasher.StatusError
	return err.Error() != "" && (errors.As(err, &ce) || errors.As(err, &te) || errors.As(err, &ve) || errors.As(err, &con) || errors.As(err, &chip) || errors.As(err, &se))
}
