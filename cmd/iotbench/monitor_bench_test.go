package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/virtualboard"
)

// BenchmarkMonitor2Mbaud streams log lines from a real-time virtual board
// at 2,000,000 baud over a pty for IOTBENCH_BENCH_SECONDS (default 60) to
// `iotbench monitor --raw`, then to `cat` as the reference, and reports
// bytes lost (must be 0) and CPU seconds per second of monitoring for both.
func BenchmarkMonitor2Mbaud(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("needs the Linux pty transport")
	}
	secs := 60
	if v, err := strconv.Atoi(os.Getenv("IOTBENCH_BENCH_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	dir := b.TempDir()
	bin := filepath.Join(dir, "iotbench")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("building iotbench: %v\n%s", err, out)
	}
	for i := 0; i < b.N; i++ {
		for _, tool := range []string{"iotbench", "cat"} {
			sent, got, dropped, cpu := streamTo(b, tool, bin, dir, time.Duration(secs)*time.Second)
			b.ReportMetric(float64(sent-got), tool+"_bytes_lost")
			b.ReportMetric(float64(dropped), tool+"_bytes_dropped_at_board")
			b.ReportMetric(cpu, tool+"_cpu_s/s")
			b.ReportMetric(float64(got)*10/float64(secs)/1000, tool+"_kbaud_received")
		}
	}
}

func streamTo(b *testing.B, tool, bin, dir string, d time.Duration) (sent, got, dropped int64, cpuPerSec float64) {
	var total atomic.Int64
	var running atomic.Bool
	stop := make(chan struct{})
	app := func(ctx context.Context, env *virtualboard.AppEnv) {
		env.Begin(2000000)
		<-stop // start when the reader is ready
		for i := 0; ctx.Err() == nil && running.Load(); i++ {
			line := fmt.Sprintf("%010d sensor t=21.5 h=40 lux=123 heap=23456 wifi=-61 iotbench log line\r\n", i)
			env.Print(line)
			total.Add(int64(len(line)))
			if env.Flush(ctx) != nil {
				return
			}
		}
	}
	board, err := virtualboard.New(virtualboard.Config{Speed: 1, App: app})
	if err != nil {
		b.Fatal(err)
	}
	defer board.Close()
	bl, _ := image.NewBuilder(image.ChipESP8266)
	bl.Segments = []image.BuildSegment{{Addr: 0x40100000, Data: make([]byte, 16)}}
	img, _ := bl.Build()
	board.Flash().Load(0, img)
	board.Reset(false)
	pty, err := board.ServePTYWith(virtualboard.PTYOptions{Boot: virtualboard.OpenBootNone})
	if err != nil {
		b.Fatal(err)
	}
	defer pty.Close()
	out := filepath.Join(dir, tool+".out")
	var cmd *exec.Cmd
	if tool == "cat" {
		cmd = exec.Command("sh", "-c", fmt.Sprintf("stty -F %s raw 2000000 && exec cat %s > %s", pty.Path(), pty.Path(), out))
	} else {
		cmd = exec.Command(bin, "monitor", "--port", pty.Path(), "--baud", "2000000", "--boot-baud", "0", "--raw")
		f, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		cmd.Stdout = f
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // the reader is attached
	running.Store(true)
	close(stop)
	start := time.Now()
	time.Sleep(d)
	running.Store(false) // stop sending, let the reader drain
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	wall := time.Since(start).Seconds()
	st, _ := os.Stat(out)
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return total.Load(), st.Size(), board.Dropped(), cpu.Seconds() / wall
}
