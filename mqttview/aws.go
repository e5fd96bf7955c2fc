package mqttview

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/iotbench/iotbench/mqttview/topic"
)

// ALPNProtocol is what AWS IoT needs to hear to speak MQTT with a client
// certificate on port 443 (aws-iot.md §5.2).
const ALPNProtocol = "x-amzn-mqtt-ca"

// AWSCertificate returns the broker URL and TLS config for AWS IoT with a
// client certificate: port 8883, or 443 with ALPN x-amzn-mqtt-ca. SNI is
// the endpoint name (required by AWS), TLS 1.2 at least, no session
// tickets (AWS IoT does not take the extension). roots nil means the
// system's roots, which hold Amazon Root CA 1 and 3.
func AWSCertificate(endpoint string, port int, cert tls.Certificate, roots *x509.CertPool) (string, *tls.Config, error) {
	if endpoint == "" {
		return "", nil, fmt.Errorf("no AWS IoT endpoint: give the iot:Data-ATS address (aws iot describe-endpoint --endpoint-type iot:Data-ATS)")
	}
	if port != 8883 && port != 443 {
		return "", nil, fmt.Errorf("AWS IoT takes certificates on port 8883, or 443 with ALPN; not %d", port)
	}
	c := &tls.Config{
		ServerName:             endpoint,
		Certificates:           []tls.Certificate{cert},
		RootCAs:                roots,
		MinVersion:             tls.VersionTLS12,
		SessionTicketsDisabled: true,
	}
	if port == 443 {
		c.NextProtos = []string{ALPNProtocol}
	}
	return "mqtts://" + net.JoinHostPort(endpoint, strconv.Itoa(port)), c, nil
}

// emptySHA256 is the payload hash of a GET without a body.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// SigV4Service is the signing name of the AWS IoT device gateway.
const SigV4Service = "iotdevicegateway"

// PresignWebSocketURL builds wss://<endpoint>/mqtt?… presigned with SigV4
// the way AWS IoT wants it (aws-iot.md §5.4): GET /mqtt, host the only
// signed header, the empty payload hash, service iotdevicegateway. A
// session token is appended after signing, outside the canonical query,
// as the AWS device SDKs do.
func PresignWebSocketURL(ctx context.Context, endpoint, region string, creds aws.Credentials, at time.Time) (string, error) {
	if endpoint == "" || region == "" {
		return "", fmt.Errorf("presigning needs the endpoint and its region")
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return "", fmt.Errorf("no AWS credentials to sign the WebSocket URL with")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+endpoint+"/mqtt", nil)
	if err != nil {
		return "", err
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableSessionToken = true })
	signed, _, err := signer.PresignHTTP(ctx, creds, req, emptySHA256, SigV4Service, region, at)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(signed)
	if err != nil {
		return "", err
	}
	u.Scheme = "wss"
	if creds.SessionToken != "" {
		u.RawQuery += "&X-Amz-Security-Token=" + url.QueryEscape(creds.SessionToken)
	}
	return u.String(), nil
}

// AWSWebSocket returns a Config for AWS IoT over a SigV4 WebSocket with the
// operator's credentials, presigning again before every attempt (the URL
// embeds the time, and AWS ends such connections after about 24 h).
func AWSWebSocket(endpoint, region string, creds aws.CredentialsProvider, roots *x509.CertPool) Config {
	return Config{
		Broker: "wss://" + endpoint + "/mqtt",
		TLS:    &tls.Config{ServerName: endpoint, RootCAs: roots, MinVersion: tls.VersionTLS12},
		AWS:    true,
		Presign: func(ctx context.Context) (string, error) {
			c, err := creds.Retrieve(ctx)
			if err != nil {
				return "", fmt.Errorf("AWS credentials: %w", err)
			}
			return PresignWebSocketURL(ctx, endpoint, region, c, time.Now())
		},
	}
}

// Lifecycle filters: AWS IoT's presence events (aws-iot.md §5.3).
var LifecycleFilters = []string{"$aws/events/presence/connected/+", "$aws/events/presence/disconnected/+"}

// DefaultFilters returns what the viewer subscribes to when told nothing:
// one filter per known thing (thingFilter(thing)), or the catch-all when
// there are more things than AWS allows subscriptions, and the lifecycle
// topics when asked. It never returns '#' (AWS disconnects for it).
func DefaultFilters(things []string, thingFilter func(string) string, catchAll string, lifecycle bool) []string {
	room := topic.MaxSubscriptions
	var out []string
	if lifecycle {
		out = append(out, LifecycleFilters...)
		room -= len(LifecycleFilters)
	}
	if len(things) == 0 || len(things) > room {
		return append(out, catchAll)
	}
	for _, t := range things {
		out = append(out, thingFilter(t))
	}
	return out
}
