package mqttview

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// wsBroker is mochi with a WebSocket listener (ws, or wss with the test
// PKI's server certificate) that lets everyone in: the transport is what
// is tested here; AWS's SigV4 check cannot be reproduced offline.
func wsBroker(t *testing.T, p *testPKI) string {
	t.Helper()
	s := mqtt.New(&mqtt.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := s.AddHook(new(allowAll), nil); err != nil {
		t.Fatal(err)
	}
	cfg := listeners.Config{ID: "ws", Address: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	scheme := "ws"
	if p != nil {
		cert, err := tls.LoadX509KeyPair(p.srvCert, p.srvKey)
		if err != nil {
			t.Fatal(err)
		}
		cfg.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		scheme = "wss"
	}
	if err := s.AddListener(listeners.NewWebsocket(cfg)); err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	// mochi's WebSocket listener binds in the background.
	eventually(t, 3*time.Second, "the WebSocket listener", func() bool {
		c, err := net.DialTimeout("tcp", cfg.Address, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return scheme + "://" + cfg.Address + "/mqtt"
}

// allowAll admits everyone (mochi's own allow hook pulls in a YAML
// dependency this module does not carry).
type allowAll struct{ mqtt.HookBase }

func (h *allowAll) ID() string { return "allow-all" }
func (h *allowAll) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}
func (h *allowAll) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }
func (h *allowAll) OnACLCheck(*mqtt.Client, string, bool) bool              { return true }

func TestWebSocketTransports(t *testing.T) {
	p := newTestPKI(t)
	for _, secure := range []bool{false, true} {
		var pki *testPKI
		if secure {
			pki = p
		}
		url := wsBroker(t, pki)
		t.Run(url[:3], func(t *testing.T) {
			var presigned atomic.Int32
			cfg := Config{
				Broker: url, TLS: &tls.Config{RootCAs: p.pool}, ConnectTimeout: 3 * time.Second,
				// Stands in for the SigV4 presigner: called before every
				// attempt, its URL (query and all) is what gets dialled.
				Presign: func(context.Context) (string, error) {
					presigned.Add(1)
					return url + "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc", nil
				},
			}
			v, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			ctx := context.Background()
			if err := v.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			if presigned.Load() != 1 {
				t.Fatalf("presigned %d times", presigned.Load())
			}
			if s := v.State().Broker; s != url {
				t.Errorf("the state shows %q: a presigned URL's query must never be shown", s)
			}
			if err := v.Subscribe(ctx, "ws/#"); err != nil {
				t.Fatal(err)
			}
			if err := v.Publish(ctx, "ws/x", []byte("over websocket"), 1, false); err != nil {
				t.Fatal(err)
			}
			eventually(t, 3*time.Second, "the message over WebSocket", func() bool { st, ok := v.Store().Topic("ws/x"); return ok && string(st.Payload) == "over websocket" })
		})
	}
	// A wss server whose certificate we do not trust.
	url := wsBroker(t, p)
	v, _ := New(Config{Broker: url, TLS: &tls.Config{RootCAs: newTestPKI(t).pool}, ConnectTimeout: 3 * time.Second})
	defer v.Close()
	err := v.Connect(context.Background())
	if ce, ok := err.(*ConnectError); !ok || ce.Stage != "tls" {
		t.Fatalf("wss with the wrong CA: %v", err)
	}
}
