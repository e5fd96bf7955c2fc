package localcloud

import (
	"bytes"
	"context"
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
