package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The scripted session of issue 9: `iotbench demo` in a real terminal
// (tmux, 120×40), driven by keys the way a person would, its screens
// captured as text and compared with testdata/tmux/demo.golden after the
// parts that change from run to run (ports, certificate ids, clock times,
// durations, counts) are masked.
//
//	go test ./cmd/iotbench -run TestTmuxDemo -update
//
// (or IOTBENCH_UPDATE_GOLDEN=1) rewrites the golden file.

const tmuxGolden = "testdata/tmux/demo.golden"

func init() {
	// Another test file may bring the golden package, which has -update.
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func updateGolden() bool {
	if os.Getenv("IOTBENCH_UPDATE_GOLDEN") != "" {
		return true
	}
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// tmuxSession is one detached tmux server and session of its own.
type tmuxSession struct {
	t      *testing.T
	socket string
	target string
}

func (s *tmuxSession) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (s *tmuxSession) capture() string {
	s.t.Helper()
	out, err := s.run("capture-pane", "-p", "-t", s.target)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

func (s *tmuxSession) keys(keys ...string) {
	s.t.Helper()
	if _, err := s.run(append([]string{"send-keys", "-t", s.target}, keys...)...); err != nil {
		s.t.Fatal(err)
	}
}

// waitScreen polls the pane (tmux has no event for what is on screen)
// until every text is on it.
func (s *tmuxSession) waitScreen(what string, within time.Duration, texts ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		screen := s.capture()
		all := true
		for _, t := range texts {
			all = all && strings.Contains(screen, t)
		}
		if all {
			return screen
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out after %v waiting for %s (%q); screen:\n%s", within, what, texts, screen)
		}
		<-tick.C
	}
}

// startTmuxDemo runs "iotbench demo ARGS" in a detached 120×40 tmux
// session; quit presses q and checks that the demo exits 0.
func startTmuxDemo(t *testing.T, args ...string) (s *tmuxSession, quit func()) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("tmux is not installed (.ci/run installs it): %v", err)
		}
		t.Skipf("tmux is not installed, so the scripted TUI session cannot run: %v", err)
	}
	// The iotbench that testscript installs on $PATH (this test binary,
	// which runs the command when called by that name).
	bin, err := exec.LookPath("iotbench")
	if err != nil || !strings.Contains(bin, "testscript-main") {
		t.Fatalf("no testscript-installed iotbench on $PATH (got %q, %v)", bin, err)
	}
	dir := t.TempDir()
	s = &tmuxSession{t: t, socket: fmt.Sprintf("iotbench-test-%d-%s", os.Getpid(), t.Name()), target: "demo"}
	status := filepath.Join(dir, "status")
	// When the demo exits, its status goes to a file and the test, waiting
	// on a tmux channel, is woken.
	cmdline := fmt.Sprintf("%q demo", bin)
	for _, a := range args {
		cmdline += fmt.Sprintf(" %q", a)
	}
	script := fmt.Sprintf("%s; echo $? > %q; tmux -L %q wait-for -S iotbench-done", cmdline, status, s.socket)
	if _, err := s.run("-f", "/dev/null", "new-session", "-d", "-s", s.target, "-x", "120", "-y", "40",
		"-e", "IOTBENCH_DATA_DIR="+filepath.Join(dir, "data"), "-e", "IOTBENCH_PORT=", "sh", "-c", script,
		";", "set-option", "-w", "-t", s.target, "remain-on-exit", "on"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.run("kill-server") })
	quit = func() {
		t.Helper()
		// q quits (nothing is running): the demo exits 0.
		waiter := exec.Command("tmux", "-L", s.socket, "wait-for", "iotbench-done")
		if err := waiter.Start(); err != nil {
			t.Fatal(err)
		}
		s.keys("q")
		done := make(chan error, 1)
		go func() { done <- waiter.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("waiting for the demo to exit: %v", err)
			}
		case <-time.After(15 * time.Second):
			waiter.Process.Kill()
			t.Fatalf("the demo did not exit after q; screen:\n%s", s.capture())
		}
		code, err := os.ReadFile(status)
		if err != nil || strings.TrimSpace(string(code)) != "0" {
			t.Fatalf("the demo exited with %q (%v); screen:\n%s", code, err, s.capture())
		}
	}
	return s, quit
}

func TestTmuxDemo(t *testing.T) {
	s, quit := startTmuxDemo(t)
	provision := s.waitScreen("the demo's board verified", 60*time.Second, "✓ verified", "★ verified:")
	s.keys("4")
	topics := s.waitScreen("the Topics view with the board's topic", 20*time.Second, "Topics · the demo's broker", "telemetry", "Charts")
	s.keys("5")
	doctor := s.waitScreen("the Doctor view", 10*time.Second, "Doctor · provisioning run", "publish.verified")
	if strings.Contains(doctor, "serial.stalled") {
		t.Fatalf("the doctor finds a stall on a board it saw publish (the pipeline stops reading the log once the broker has the board, so the log ends mid-step): doctor's dropStalledPublish must drop every serial.stalled finding once the publish was seen; screen:\n%s", doctor)
	}
	quit()

	got := "== Provision: the board verified\n" + maskScreen(provision) +
		"== Topics (tree and the selected topic; counts and rates masked)\n" + maskTopics(topics) +
		"== Doctor\n" + maskScreen(doctor)
	compareGolden(t, tmuxGolden, got)
}

// The TUI demo on a virtual ESP32-C3: the wizard provisions it (merged
// image at 0x0, filesystem in the spiffs partition) to verified, the
// monitor follows the firmware at the ESP32 family's 115200 baud, and the
// doctor finds it healthy.
func TestTmuxDemoESP32C3(t *testing.T) {
	s, quit := startTmuxDemo(t, "--chip", "esp32c3")
	s.waitScreen("the demo's ESP32-C3 verified", 60*time.Second, "ESP32-C3", "✓ verified", "★ verified:", "partition spiffs")
	s.keys("1")
	s.waitScreen("the monitor at the ESP32's rate", 20*time.Second, "Monitor · 115200 baud", "#IB pub topic=iotbench/esp32c3-")
	s.keys("5")
	doctor := s.waitScreen("the Doctor view", 10*time.Second, "Doctor · provisioning run", "publish.verified", "healthy")
	if strings.Contains(doctor, "serial.") {
		t.Fatalf("the doctor has a serial finding on a verified ESP32-C3:\n%s", doctor)
	}
	quit()
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if updateGolden() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if string(want) != got {
		t.Fatalf("the session's screens differ from %s (run with -update to accept):\n%s", path, lineDiff(string(want), got))
	}
}

// lineDiff lists the lines that differ, by number.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d\n  want %q\n  got  %q\n", i+1, wl, gl)
		}
	}
	return b.String()
}

// Masks for what changes between runs. Each keeps the text's width, so
// the screen's columns and its truncation points stay where they were.
var (
	maskPort  = regexp.MustCompile(`((?:127\.0\.0\.1|localhost):)(\d+)`)
	maskCert  = regexp.MustCompile(`(certificate )([0-9a-f]{12,64})`)
	maskClock = regexp.MustCompile(`\b\d\d:\d\d:\d\d(?:\.\d{3})?\b`)
	maskDur   = regexp.MustCompile(`\b\d+\.\d ?s\b`)
	maskBytes = regexp.MustCompile(`\(\d+ bytes\)`)
	digits    = regexp.MustCompile(`\d`)
)

func hashes(s string) string { return digits.ReplaceAllString(s, "#") }

func maskScreen(screen string) string {
	s := maskPort.ReplaceAllStringFunc(screen, func(m string) string {
		p := maskPort.FindStringSubmatch(m)
		return p[1] + hashes(p[2])
	})
	s = maskCert.ReplaceAllStringFunc(s, func(m string) string {
		p := maskCert.FindStringSubmatch(m)
		return p[1] + strings.Repeat("x", len(p[2]))
	})
	for _, re := range []*regexp.Regexp{maskClock, maskDur, maskBytes} {
		s = re.ReplaceAllStringFunc(s, hashes)
	}
	return trimRows(s)
}

// trimRows drops trailing spaces and the blank rows at the end.
func trimRows(s string) string {
	rows := strings.Split(s, "\n")
	for i := range rows {
		rows[i] = strings.TrimRight(rows[i], " ")
	}
	for len(rows) > 0 && rows[len(rows)-1] == "" {
		rows = rows[:len(rows)-1]
	}
	return strings.Join(rows, "\n") + "\n"
}

var (
	maskRate   = regexp.MustCompile(`\b\d+(?:\.\d+)?/s\b`)
	maskCount  = regexp.MustCompile(`\b\d+ (message|topic|byte)s?\b`)
	maskIn     = regexp.MustCompile(`\b\d+ in \d+\b`)
	maskTally  = regexp.MustCompile(`\b\d+ #/s\b`)
	maskSpaces = regexp.MustCompile(` {2,}`)
	// A topic shows no rate until its second message, so whether a rate
	// is there depends on when the screen was captured.
	maskNoRate = regexp.MustCompile(`(?m)(│[▸ ] ?\S+) (\d+)( R)?$`)
)

// maskTopics keeps the Topics view down to its tree and the selected
// topic's header: messages keep arriving while the screen is captured,
// so counts and rates are masked, and the alignment they move is given
// up (runs of spaces become one).
func maskTopics(screen string) string {
	head, _, _ := strings.Cut(maskScreen(screen), "Charts")
	if i := strings.LastIndex(head, "\n"); i >= 0 {
		head = head[:i+1]
	}
	head = maskRate.ReplaceAllString(head, "#/s")
	head = maskIn.ReplaceAllString(head, "# in #")
	head = maskCount.ReplaceAllString(head, "# ${1}s")
	head = strings.ReplaceAll(head, "no rate yet", "#/s")
	head = maskTally.ReplaceAllString(head, "# #/s")
	head = maskSpaces.ReplaceAllString(head, " ")
	return maskNoRate.ReplaceAllString(head, "$1 # #/s$3")
}
