package serialmon

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run if goroutines started by this package or the
// rfc2217 client it dials outlive the tests, or if descriptors leak (Linux:
// counted in /proc/self/fd).
func TestMain(m *testing.M) {
	// Start the runtime's poller so its descriptors are in the baseline.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	fds := countFDs()
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(3 * time.Second)
		leaked := ourGoroutines()
		for len(leaked) > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			leaked = ourGoroutines()
		}
		if len(leaked) > 0 {
			fmt.Fprintf(os.Stderr, "goroutine leak:\n\n%s\n", strings.Join(leaked, "\n\n"))
			code = 1
		}
		if after := countFDs(); fds >= 0 && after != fds {
			fmt.Fprintf(os.Stderr, "descriptor leak: %d open before the tests, %d after\n", fds, after)
			code = 1
		}
	}
	os.Exit(code)
}

func ourGoroutines() []string {
	buf := make([]byte, 1<<20)
	var ours []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "iotbench/serialmon") && !strings.Contains(g, "TestMain") {
			ours = append(ours, g)
		}
	}
	return ours
}

// countFDs returns the number of open descriptors, or -1 where /proc is
// not available.
func countFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}
