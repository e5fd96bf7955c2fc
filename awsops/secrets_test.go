package awsops

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/iotbench/iotbench/awsops/awstest"
)

// keyFingerprints are strings that would betray a private key if they
// appeared in any output: its PEM text, chunks of its DER in base64 and
// hex, and its secret number in hex and decimal.
func keyFingerprints(t *testing.T, keyPEM []byte) []string {
	t.Helper()
	k, err := parseKeyPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	der, _, _ := keyDER(k)
	out := []string{"PRIVATE KEY", string(keyPEM[40:80])}
	b64 := base64.StdEncoding.EncodeToString(der)
	hx := hex.EncodeToString(der)
	for i := 0; i+24 <= len(b64); i += 24 {
		out = append(out, b64[i:i+24])
	}
	for i := 0; i+32 <= len(hx); i += 32 {
		out = append(out, hx[i:i+32], strings.ToUpper(hx[i:i+32]))
	}
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		b, _ := k.Bytes()
		out = append(out, hex.EncodeToString(b), k.D.String())
	case *rsa.PrivateKey:
		out = append(out, k.D.Text(16)[:32], k.D.String()[:32], k.Primes[0].Text(16)[:32])
	}
	return out
}

// TestNoSecretsInOutput runs every operation with tracing on and scans
// everything that could reach a terminal or a log — events, trace lines,
// results as JSON, errors — for the key.
func TestNoSecretsInOutput(t *testing.T) {
	for _, kt := range []KeyType{KeyRSA2048, KeyECP256, KeyAWSGenerated} {
		t.Run(string(kt), func(t *testing.T) {
			b := awstest.Emulator(t)
			var mu sync.Mutex
			var out strings.Builder
			record := func(v any) {
				mu.Lock()
				defer mu.Unlock()
				j, _ := json.Marshal(v)
				out.Write(j)
				fmt.Fprintf(&out, "\n%+v\n", v)
			}
			c, err := New(context.Background(), Options{Region: b.Region, EndpointURL: b.URL, Credentials: b.Credentials(), DisableIMDS: true,
				LedgerDir: t.TempDir(), Trace: func(s string) { record(s) }})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			onEvent := func(e Event) { record(e) }
			res, err := c.Provision(ctx, ProvisionOptions{Thing: "secret", Key: kt, OnEvent: onEvent, OutDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			record(res)
			keyPEM, err := os.ReadFile(res.Files[FileKeyPEM][0])
			if err != nil {
				t.Fatal(err)
			}
			// Interrupted and resumed, so the recovery paths print too.
			killAt(c, "certificate")
			c.Provision(ctx, ProvisionOptions{Thing: "secret", Key: kt, OnEvent: onEvent})
			c.crash = nil
			st, err := c.Status(ctx, "secret")
			record(st)
			record(err)
			chk, err := c.CheckPolicy(ctx, CheckRequest{Thing: "secret", Publish: []string{"x"}})
			record(chk)
			record(err)
			if chk != nil {
				record(chk.Err())
			}
			dr, err := c.Deprovision(ctx, DeprovisionOptions{Thing: "secret", OnEvent: onEvent})
			record(dr)
			record(err)
			text := out.String()
			if !strings.Contains(text, "aws iot:CreateThing") {
				t.Fatalf("trace missing, the scan would prove nothing:\n%s", text)
			}
			for _, f := range keyFingerprints(t, keyPEM) {
				if strings.Contains(text, f) {
					t.Errorf("key material %q found in output", f)
				}
			}
		})
	}
}
