package mqttview

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// dialError says which stage of opening the connection failed.
type dialError struct {
	stage string
	err   error
}

func (e *dialError) Error() string { return e.stage + ": " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// open dials the broker for paho: TCP, then TLS (with SNI and, on AWS port
// 443, ALPN x-amzn-mqtt-ca), or a WebSocket (presigned per attempt).
func (v *Viewer) open(ctx context.Context) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.ConnectTimeout)
	defer cancel()
	u := v.broker
	switch u.Scheme {
	case "ws", "wss":
		target := u.String()
		if v.cfg.Presign != nil {
			s, err := v.cfg.Presign(ctx)
			if err != nil {
				return nil, &dialError{"signing the WebSocket URL", err}
			}
			target = s
		}
		var tc *tls.Config
		if u.Scheme == "wss" {
			tc = v.tlsConfig()
		}
		h := http.Header{}
		if v.cfg.Username != "" && v.cfg.Presign == nil {
			// paho drops user info from ws URLs; brokers that want HTTP
			// basic auth on the upgrade get it here.
			r := &http.Request{Header: h}
			r.SetBasicAuth(v.cfg.Username, v.cfg.Password)
		}
		du, _ := url.Parse(target)
		if du != nil {
			du.User = nil
			target = du.String()
		}
		c, err := paho.NewWebsocket(target, tc, v.cfg.ConnectTimeout, h, nil)
		if err != nil {
			stage := "websocket"
			var ue x509.UnknownAuthorityError
			var ce x509.CertificateInvalidError
			var he x509.HostnameError
			var ne *net.OpError
			if errors.As(err, &ue) || errors.As(err, &ce) || errors.As(err, &he) {
				stage = "tls"
			} else if errors.As(err, &ne) && ne.Op == "dial" {
				stage = "dial"
			}
			return nil, &dialError{stage, err}
		}
		return c, nil
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, &dialError{"dial", err}
	}
	if u.Scheme == "mqtt" || u.Scheme == "tcp" {
		return raw, nil
	}
	tc := tls.Client(raw, v.tlsConfig())
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, &dialError{"tls", err}
	}
	return tc, nil
}

func (v *Viewer) tlsConfig() *tls.Config {
	var c *tls.Config
	if v.cfg.TLS != nil {
		c = v.cfg.TLS.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = v.broker.Hostname()
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

// Explain says in words why a connection failed or dropped.
func Explain(err error) string {
	if err == nil {
		return ""
	}
	var ce *ConnectError
	if errors.As(err, &ce) {
		if ce.Hint != "" {
			return ce.Hint
		}
		return ce.Err.Error()
	}
	if h := hint(&ConnectError{Err: err}); h != "" {
		return h
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "EOF"), strings.Contains(msg, "connection reset"):
		return "the broker closed the connection (" + msg + "); AWS IoT does so after a publish or subscribe its policy denies, a second connection with the same client ID, or a broker restart"
	case strings.Contains(msg, "pingresp not received"):
		return "no answer to keep-alive pings: the network or the broker went away"
	}
	return msg
}

// hint suggests the fix for a failed connection.
func hint(ce *ConnectError) string {
	err := ce.Err
	var ue x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	var he x509.HostnameError
	var alert tls.AlertError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &ue):
		return "the broker's certificate is not signed by a CA we trust: give the right CA (--ca); for AWS IoT use Amazon Root CA 1/3 with the -ats endpoint, for the local cloud its ca.pem"
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return "the broker's certificate is expired or not yet valid: check this machine's clock (" + ci.Detail + ")"
	case errors.As(err, &ci):
		return "the broker's certificate cannot be used: " + ci.Error()
	case errors.As(err, &he):
		return "the broker's certificate does not name " + he.Host + ": connect by the host name the certificate was issued for"
	case errors.As(err, &alert):
		switch uint8(alert) {
		case 42, 43, 46, 48:
			return "the broker rejected our client certificate (" + alert.Error() + "): it is not signed by the broker's CA, or it is revoked or unknown there"
		case 45:
			return "the broker rejected our client certificate as expired: issue a new one"
		case 116:
			return "the broker requires a client certificate: give --cert and --key"
		case 120:
			return "the broker does not speak the ALPN protocol we offered (x-amzn-mqtt-ca is for AWS IoT on port 443)"
		}
		return "the broker ended the TLS handshake: " + alert.Error()
	case strings.Contains(err.Error(), "remote error: tls: "):
		// crypto/tls reports a peer's alert as text only (tls.AlertError
		// is for QUIC).
		msg := err.Error()
		switch {
		case strings.Contains(msg, "expired certificate"), strings.Contains(msg, "certificate expired"):
			return "the broker rejected our client certificate as expired: issue a new one"
		case strings.Contains(msg, "certificate required"):
			return "the broker requires a client certificate: give --cert and --key"
		case strings.Contains(msg, "no application protocol"):
			return "the broker does not speak the ALPN protocol we offered (x-amzn-mqtt-ca is for AWS IoT on port 443)"
		}
		return "the broker rejected our client certificate (" + msg[strings.Index(msg, "remote error: "):] + "): it is not signed by the broker's CA, or it is revoked or unknown there"
	case errors.As(err, &dnsErr):
		return "the host name does not resolve: check the endpoint (" + dnsErr.Name + ")"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing listens there: is the broker running (iotbench cloud serve), and is the port right?"
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return "no answer in time: the host is unreachable or a firewall drops the port"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "the host is unreachable from this machine"
	case ce.ClosedAfterConnect:
		return "the broker closed the connection after CONNECT without answering: it refused our client certificate (with TLS 1.3 that verdict only arrives now: expired, from another CA, or missing), or, on AWS IoT and the local cloud, the policy does not allow iot:Connect for this client ID or the certificate is not active or not attached to the thing"
	case ce.Refused:
		return "the broker refused the connection: " + err.Error()
	case ce.Stage == "websocket" && strings.Contains(err.Error(), "bad handshake"):
		return "the WebSocket upgrade was refused: on AWS IoT a 403 means a bad SigV4 signature, an expired URL or a skewed clock, or the credentials' IAM policy lacks iot:Connect"
	}
	return ""
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// String renders the state for a status line.
func (s State) String() string {
	switch s.Status {
	case StatusConnected:
		return "connected to " + s.Broker
	case StatusConnecting:
		if s.Attempt > 1 {
			return fmt.Sprintf("connecting to %s (attempt %d)", s.Broker, s.Attempt)
		}
		return "connecting to " + s.Broker
	case StatusDisconnected:
		out := "disconnected from " + s.Broker
		if s.Reason != "" {
			out += ": " + s.Reason
		}
		if s.RetryIn > 0 {
			out += fmt.Sprintf("; retrying in %s", s.RetryIn.Round(10e6))
		}
		return out
	}
	return string(s.Status)
}
