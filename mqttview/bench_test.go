package mqttview

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iotbench/iotbench/localcloud"
)

// BenchmarkFlood: a publisher floods 1,000 topics on the local cloud while
// the viewer and `mosquitto_sub -v '#'` both watch everything; it reports
// each one's sustained msg/s over the same window, their ratio, and the
// viewer's memory. Run with:
//
//	go test ./mqttview -run '^$' -bench Flood -benchtime 1x
//
// mosquitto_sub's output goes to a pipe that only counts lines (the
// moral equivalent of > /dev/null, but countable).
func BenchmarkFlood(b *testing.B) {
	const topics = 1000
	window := 3 * time.Second
	if s := os.Getenv("IOTBENCH_FLOOD_SECONDS"); s != "" {
		n, _ := strconv.Atoi(s)
		window = time.Duration(n) * time.Second
	}
	subPath, err := exec.LookPath("mosquitto_sub")
	if err != nil {
		b.Skip("mosquitto_sub not installed (apt-get install mosquitto-clients)")
	}
	dir := b.TempDir()
	c, err := localcloud.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br, err := c.Serve(localcloud.ServeOptions{Addr: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	tc, err := c.ViewerTLS(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	url := "mqtts://" + br.Addr().String()
	ctx := context.Background()

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v, err := New(Config{Broker: url, TLS: tc})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	if err := v.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	if err := v.Subscribe(ctx, "#"); err != nil {
		b.Fatal(err)
	}

	host, portStr := splitHostPort(br.Addr().String())
	sub := exec.Command(subPath, "-h", host, "-p", portStr, "--cafile", filepath.Join(dir, "ca", "ca.pem"),
		"--cert", filepath.Join(dir, "viewer", "cert.pem"), "--key", filepath.Join(dir, "viewer", "key.pem"),
		"--insecure", // the server certificate names 127.0.0.1 as an IP SAN, which mosquitto_sub's host check does not read
		"-i", "iotbench-viewer-mosquitto-sub", "-v", "-t", "#")
	out, err := sub.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	var stderr bytes.Buffer
	sub.Stderr = &stderr
	if err := sub.Start(); err != nil {
		b.Fatal(err)
	}
	var mosqLines atomic.Int64
	counted := make(chan struct{})
	go func() {
		defer close(counted)
		r := bufio.NewReaderSize(out, 1<<20)
		buf := make([]byte, 1<<20)
		for {
			n, err := r.Read(buf)
			mosqLines.Add(int64(bytes.Count(buf[:n], []byte{'\n'})))
			if err != nil {
				io.Copy(io.Discard, r)
				return
			}
		}
	}()
	defer func() { sub.Process.Kill(); <-counted; sub.Wait() }()

	pub, err := New(Config{Broker: url, TLS: tc, ClientID: "iotbench-viewer-flood"})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	// Warm up until both subscribers see messages.
	deadline := time.Now().Add(10 * time.Second)
	for v.Store().Totals().Messages == 0 || mosqLines.Load() == 0 {
		if time.Now().After(deadline) {
			b.Fatalf("subscribers not ready (viewer %d, mosquitto_sub %d): %s", v.Store().Totals().Messages, mosqLines.Load(), stderr.String())
		}
		pub.Publish(ctx, "bench/warmup", []byte("{}"), 0, false)
		time.Sleep(20 * time.Millisecond)
	}
	names := make([]string, topics)
	for i := range names {
		names[i] = fmt.Sprintf("bench/dev-%04d/telemetry", i)
	}
	b.ResetTimer()
	v0, m0 := v.Store().Totals().Messages, mosqLines.Load()
	start := time.Now()
	var sent int
	for time.Since(start) < window {
		for j := 0; j < 200; j++ {
			payload := strconv.AppendInt([]byte(`{"seq":`), int64(sent), 10)
			payload = append(payload, `,"t":21.5,"rh":40}`...)
			if err := pub.Publish(ctx, names[sent%topics], payload, 0, false); err != nil {
				b.Fatal(err)
			}
			sent++
		}
	}
	elapsed := time.Since(start)
	v1, m1 := v.Store().Totals().Messages, mosqLines.Load()
	b.StopTimer()
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)

	viewerRate := float64(v1-v0) / elapsed.Seconds()
	mosqRate := float64(m1-m0) / elapsed.Seconds()
	b.ReportMetric(float64(sent)/elapsed.Seconds(), "sent-msg/s")
	b.ReportMetric(viewerRate, "viewer-msg/s")
	b.ReportMetric(mosqRate, "mosquitto_sub-msg/s")
	if mosqRate > 0 {
		b.ReportMetric(viewerRate/mosqRate, "ratio")
	}
	b.ReportMetric(float64(after.HeapAlloc)/(1<<20), "heap-MB")
	b.ReportMetric(float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc))/(1<<20), "heap-growth-MB")
	tot := v.Store().Totals()
	b.Logf("%s flood, %d topics: sent %d (%.0f/s); viewer %.0f msg/s, mosquitto_sub %.0f msg/s, ratio %.2f; viewer keeps %d topics, heap %.1f MB (Go heap of the whole test process, broker included)",
		elapsed.Round(time.Millisecond), topics, sent, float64(sent)/elapsed.Seconds(), viewerRate, mosqRate, viewerRate/max(mosqRate, 1), tot.Topics, float64(after.HeapAlloc)/(1<<20))
}

func splitHostPort(s string) (string, string) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// BenchmarkStoreAdd is the viewer's own ceiling, without a network: what
// one message costs the store, and what a full store (1,000 topics × 100
// kept messages of ~40 bytes) weighs.
func BenchmarkStoreAdd(b *testing.B) {
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("bench/dev-%04d/telemetry", i)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := NewStore(Limits{}, nil)
	now := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := strconv.AppendInt([]byte(`{"seq":`), int64(i), 10)
		s.Add(Message{Topic: names[i%len(names)], Payload: append(p, `,"t":21.5}`...), Time: now})
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if b.N >= 100_000 {
		b.ReportMetric(float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc))/(1<<20), "store-MB")
	}
	runtime.KeepAlive(s)
}
