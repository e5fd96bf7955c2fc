package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/provision"
)

// BenchmarkProvisionRealTime: a blank virtual board with a real-time clock
// and UART, provisioned to a verified publish on the local cloud; then
// four boards at once. The transfer runs at 921600 through a stub when one
// is found (IOTBENCH_BENCH_STUB=esptool stub JSON, or an installed
// esptool), else through the ROM loader at 115200; the log says which.
// Figures: bench/README.md.
func BenchmarkProvisionRealTime(b *testing.B) {
	stub := os.Getenv("IOTBENCH_BENCH_STUB")
	run := func(n int) ([]*provision.Result, time.Duration) {
		env, err := newDemoEnv(image.ChipESP8266, 1, "", n)
		if err != nil {
			b.Fatal(err)
		}
		defer env.close(false, nil)
		o := env.opts
		o.Baud = 921600
		o.StubFile = stub
		o.BootTimeout = 3 * time.Minute
		start := time.Now()
		res, err := provision.RunAll(context.Background(), env.targets, o, nil)
		if err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		for _, r := range res {
			if !r.Verified {
				b.Fatalf("%s did not verify: %s", r.Board, r.Error)
			}
		}
		return res, took
	}
	for i := 0; i < b.N; i++ {
		one, t1 := run(1)
		_, t4 := run(4)
		r := one[0]
		mode := "ROM loader at 115200"
		for _, s := range r.Steps {
			if s.Step == provision.StepChip && strings.Contains(s.Message, "stub") {
				mode = "stub at 921600"
			}
		}
		b.Logf("one board (%s): %.1f s; four in parallel: %.1f s (%.2f× one board)", mode, t1.Seconds(), t4.Seconds(), t4.Seconds()/t1.Seconds())
		for _, s := range r.Steps {
			b.Logf("  %-8s %6.2f s  %s", s.Step, s.Duration.Seconds(), s.Message)
			b.ReportMetric(s.Duration.Seconds(), "s_"+string(s.Step))
		}
		b.ReportMetric(t1.Seconds(), "s_one_board")
		b.ReportMetric(t4.Seconds(), "s_four_boards")
		b.ReportMetric(t4.Seconds()/t1.Seconds(), "four/one")
	}
}
