package localcloud

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// Viewers started at once (boards provisioned in parallel, each watching
// its topic) share one viewer certificate, and it stays ACTIVE: were each
// to issue its own, every issue would deactivate the others'.
func TestViewerIdentityConcurrent(t *testing.T) {
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 6
	ders := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cert, err := c.ViewerIdentity(context.Background())
			errs[i] = err
			if err == nil {
				ders[i] = cert.Certificate[0]
			}
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(ders[i], ders[0]) {
			t.Fatalf("viewer %d got another certificate than viewer 0", i)
		}
	}
	r, _, err := c.reg.load()
	if err != nil {
		t.Fatal(err)
	}
	if cr := r.Certificates[CertificateID(ders[0])]; cr == nil || cr.Status != StatusActive {
		t.Fatalf("the shared viewer certificate: %+v", cr)
	}
}

// The same across processes: several iotbench processes on one cloud
// directory (this test binary re-run as children) end with one viewer
// certificate, still ACTIVE.
func TestViewerIdentityAcrossProcesses(t *testing.T) {
	if dir := os.Getenv("IOTBENCH_VIEWER_CHILD"); dir != "" {
		c, err := Open(dir)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		cert, err := c.ViewerIdentity(context.Background())
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		sum := sha256.Sum256(cert.Certificate[0])
		fmt.Println("viewer", hex.EncodeToString(sum[:]))
		c.Close()
		os.Exit(0)
	}
	dir := t.TempDir()
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	const n = 4
	outs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestViewerIdentityAcrossProcesses$")
			cmd.Env = append(os.Environ(), "IOTBENCH_VIEWER_CHILD="+dir)
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(out), err
		}()
	}
	wg.Wait()
	var first string
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("child %d: %v\n%s", i, errs[i], outs[i])
		}
		_, id, ok := strings.Cut(strings.TrimSpace(outs[i]), "viewer ")
		if !ok {
			t.Fatalf("child %d printed %q", i, outs[i])
		}
		if first == "" {
			first = id
		} else if id != first {
			t.Fatalf("child %d got another viewer certificate than child 0", i)
		}
	}
	c, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, _, err := c.reg.load()
	if err != nil {
		t.Fatal(err)
	}
	active := 0
	for _, cr := range r.Certificates {
		if cr.Thing == viewerThing && cr.Status == StatusActive {
			active++
		}
	}
	if active != 1 {
		t.Fatalf("%d active viewer certificates, want 1", active)
	}
}
