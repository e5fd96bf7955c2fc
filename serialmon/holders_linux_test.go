package serialmon

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// A busy port names who holds it (from /proc), so the user knows what to
// close.
func TestHoldersNamesTheProcess(t *testing.T) {
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	path := slave.Name()
	slave.Close()
	cmd := exec.Command("sh", "-c", "exec 3<>"+path+"; exec sleep 5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var got []string
	for i := 0; i < 50 && len(got) == 0; i++ {
		time.Sleep(20 * time.Millisecond)
		got = holders(path)
	}
	if len(got) != 1 || !strings.Contains(got[0], "sleep") || !strings.Contains(got[0], "pid ") {
		t.Fatalf("holders(%s) = %v", path, got)
	}
}
