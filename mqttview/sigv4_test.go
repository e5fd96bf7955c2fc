package mqttview

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The AWS documentation's example credentials.
var testCreds = aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}

const testEndpoint = "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com"

var testTime = time.Date(2026, 11, 25, 12, 36, 0, 0, time.UTC)

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// signByHand follows the SigV4 specification step by step, independently
// of the SDK, for GET /mqtt with host as the only signed header.
func signByHand(creds aws.Credentials, endpoint, region string, at time.Time) string {
	date, stamp := at.Format("20060102"), at.Format("20060102T150405Z")
	scope := date + "/" + region + "/iotdevicegateway/aws4_request"
	query := "X-Amz-Algorithm=AWS4-HMAC-SHA256" +
		"&X-Amz-Credential=" + url.QueryEscape(creds.AccessKeyID+"/"+scope) +
		"&X-Amz-Date=" + stamp +
		"&X-Amz-SignedHeaders=host"
	canonical := strings.Join([]string{"GET", "/mqtt", query, "host:" + endpoint + "\n", "host", emptySHA256}, "\n")
	h := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + stamp + "\n" + scope + "\n" + hex.EncodeToString(h[:])
	k := hmacSHA256([]byte("AWS4"+creds.SecretAccessKey), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, "iotdevicegateway")
	k = hmacSHA256(k, "aws4_request")
	return hex.EncodeToString(hmacSHA256(k, toSign))
}

func queryKeys(raw string) []string {
	var keys []string
	for _, kv := range strings.Split(raw, "&") {
		k, _, _ := strings.Cut(kv, "=")
		keys = append(keys, k)
	}
	return keys
}

func TestPresignWebSocketURL(t *testing.T) {
	ctx := context.Background()
	got, err := PresignWebSocketURL(ctx, testEndpoint, "eu-west-1", testCreds, testTime)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "wss" || u.Host != testEndpoint || u.Path != "/mqtt" {
		t.Fatalf("URL %s", got)
	}
	wantOrder := []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature"}
	if k := queryKeys(u.RawQuery); strings.Join(k, ",") != strings.Join(wantOrder, ",") {
		t.Fatalf("query order %v, want %v", k, wantOrder)
	}
	q := u.Query()
	if q.Get("X-Amz-Credential") != "AKIDEXAMPLE/20261125/eu-west-1/iotdevicegateway/aws4_request" || q.Get("X-Amz-Date") != "20261125T123600Z" || q.Get("X-Amz-SignedHeaders") != "host" {
		t.Fatalf("query %v", q)
	}
	if !strings.Contains(u.RawQuery, "X-Amz-Credential=AKIDEXAMPLE%2F20261125%2F") {
		t.Errorf("the credential's slashes must be encoded: %s", u.RawQuery)
	}
	hand := signByHand(testCreds, testEndpoint, "eu-west-1", testTime)
	if q.Get("X-Amz-Signature") != hand {
		t.Fatalf("signature %s, by hand %s", q.Get("X-Amz-Signature"), hand)
	}

	// The SDK's own signer, used directly in the test, agrees.
	req, _ := http.NewRequest(http.MethodGet, "https://"+testEndpoint+"/mqtt", nil)
	sdkURL, _, err := v4.NewSigner().PresignHTTP(ctx, testCreds, req, emptySHA256, "iotdevicegateway", "eu-west-1", testTime)
	if err != nil {
		t.Fatal(err)
	}
	su, _ := url.Parse(sdkURL)
	if su.Query().Get("X-Amz-Signature") != hand {
		t.Fatalf("the SDK signs %s, by hand %s", su.Query().Get("X-Amz-Signature"), hand)
	}
}

func TestPresignWebSocketURLSessionTokenAfterSigning(t *testing.T) {
	creds := testCreds
	creds.SessionToken = "FwoGZXIvYXdzE+token/with=special&chars"
	got, err := PresignWebSocketURL(context.Background(), testEndpoint, "eu-west-1", creds, testTime)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(got)
	keys := queryKeys(u.RawQuery)
	if keys[len(keys)-1] != "X-Amz-Security-Token" || keys[len(keys)-2] != "X-Amz-Signature" || len(keys) != 6 {
		t.Fatalf("the token must come last, after the signature: %v", keys)
	}
	if u.Query().Get("X-Amz-Security-Token") != creds.SessionToken {
		t.Fatalf("token %q", u.Query().Get("X-Amz-Security-Token"))
	}
	if !strings.Contains(u.RawQuery, "X-Amz-Security-Token=FwoGZXIvYXdzE%2Btoken%2Fwith%3Dspecial%26chars") {
		t.Errorf("token not URL-encoded: %s", u.RawQuery)
	}
	// The token is not signed: the signature is the one without it.
	if sig := u.Query().Get("X-Amz-Signature"); sig != signByHand(testCreds, testEndpoint, "eu-west-1", testTime) {
		t.Fatalf("the session token changed the signature (%s)", sig)
	}
	// Whereas the SDK's default (token signed) gives another signature.
	req, _ := http.NewRequest(http.MethodGet, "https://"+testEndpoint+"/mqtt", nil)
	sdkURL, _, _ := v4.NewSigner().PresignHTTP(context.Background(), creds, req, emptySHA256, "iotdevicegateway", "eu-west-1", testTime)
	su, _ := url.Parse(sdkURL)
	if su.Query().Get("X-Amz-Signature") == u.Query().Get("X-Amz-Signature") {
		t.Fatal("expected the signed-token variant to differ")
	}
}

func TestPresignErrorsAndAWSConfig(t *testing.T) {
	if _, err := PresignWebSocketURL(context.Background(), testEndpoint, "eu-west-1", aws.Credentials{}, testTime); err == nil {
		t.Error("no credentials accepted")
	}
	if _, err := PresignWebSocketURL(context.Background(), "", "eu-west-1", testCreds, testTime); err == nil {
		t.Error("no endpoint accepted")
	}
	cfg := AWSWebSocket(testEndpoint, "eu-west-1", aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return testCreds, nil })), nil)
	s, err := cfg.Presign(context.Background())
	if err != nil || !strings.HasPrefix(s, "wss://"+testEndpoint+"/mqtt?X-Amz-Algorithm=") {
		t.Fatalf("presigner: %s %v", s, err)
	}
	broker, tc, err := AWSCertificate(testEndpoint, 443, tlsCertForTest(t), nil)
	if err != nil || broker != "mqtts://"+testEndpoint+":443" || tc.ServerName != testEndpoint || len(tc.NextProtos) != 1 || tc.NextProtos[0] != "x-amzn-mqtt-ca" || !tc.SessionTicketsDisabled {
		t.Fatalf("443: %s %+v %v", broker, tc, err)
	}
	_, tc, _ = AWSCertificate(testEndpoint, 8883, tlsCertForTest(t), nil)
	if len(tc.NextProtos) != 0 {
		t.Error("no ALPN on 8883")
	}
	if _, _, err := AWSCertificate(testEndpoint, 1883, tlsCertForTest(t), nil); err == nil {
		t.Error("port 1883 accepted for AWS")
	}
	f := DefaultFilters([]string{"a", "b"}, func(s string) string { return "iotbench/" + s + "/#" }, "iotbench/#", true)
	if strings.Join(f, " ") != "$aws/events/presence/connected/+ $aws/events/presence/disconnected/+ iotbench/a/# iotbench/b/#" {
		t.Errorf("default filters %v", f)
	}
	many := make([]string, 60)
	for i := range many {
		many[i] = "t"
	}
	if f := DefaultFilters(many, func(s string) string { return s }, "iotbench/#", false); len(f) != 1 || f[0] != "iotbench/#" {
		t.Errorf("more things than subscriptions: %v", f)
	}
}
