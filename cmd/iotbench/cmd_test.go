package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func noenv(string) string { return "" }

// The quick start's run command: a virtual board flashed end to end.
// `iotbench virtual-board` serves a board other invocations can use, and
// --flash-file keeps what was written.
func TestVirtualBoardCommand(t *testing.T) {
	dir := t.TempDir()
	flashFile := filepath.Join(dir, "flash.bin")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--json", "virtual-board", "--speed", "1000", "--flash-file", flashFile}, noenv, nil, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	var info struct {
		Type    string `json:"type"`
		RFC2217 string `json:"rfc2217"`
		PTY     string `json:"pty"`
	}
	if err := json.Unmarshal([]byte(line), &info); err != nil || info.Type != "virtual_board" || !strings.HasPrefix(info.RFC2217, "rfc2217://127.0.0.1:") {
		t.Fatalf("first line %q: %v", line, err)
	}
	app := filepath.Join(dir, "app.bin")
	os.WriteFile(app, bytes.Repeat([]byte("iotbench"), 1000), 0o644)
	for _, port := range []string{info.RFC2217, info.PTY} {
		if port == "" {
			continue // no pty on this OS
		}
		before := "default-reset"
		if strings.HasPrefix(port, "/dev/") {
			before = "no-reset" // opening the pty resets the board into its loader
		}
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"--port", port, "--before", before, "--no-stub", "--json", "write-flash", "0x1000", app}, noenv, nil, &out, &errb)
		if code != exitOK || !strings.Contains(out.String(), `"type":"written"`) {
			t.Fatalf("write through %s: exit %d\n%s\n%s", port, code, out.String(), errb.String())
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("virtual-board exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("virtual-board did not stop on cancel")
	}
	saved, err := os.ReadFile(flashFile)
	if err != nil || len(saved) != 4<<20 || !bytes.Equal(saved[0x1000:0x1000+8000], bytes.Repeat([]byte("iotbench"), 1000)) {
		t.Fatalf("--flash-file did not keep the write: %v", err)
	}
}

func TestParseNumber(t *testing.T) {
	for in, want := range map[string]uint64{"0x1000": 4096, "4096": 4096, "4K": 4096, "1M": 1 << 20, "4MB": 4 << 20, "0x10": 16} {
		if got, err := parseNumber(in); err != nil || got != want {
			t.Errorf("%s: %d %v", in, got, err)
		}
	}
	if _, err := parseNumber("lots"); err == nil {
		t.Error("accepted lots")
	}
}
