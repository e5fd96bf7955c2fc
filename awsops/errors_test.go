package awsops

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/iotbench/iotbench/awsops/awstest"
	"github.com/iotbench/iotbench/awsops/emulator"
	"github.com/iotbench/iotbench/internal/shareddata"
)

func TestNoCredentials(t *testing.T) {
	b := awstest.Emulator(t)
	_, err := New(context.Background(), Options{Region: b.Region, EndpointURL: b.URL, DisableIMDS: true, LedgerDir: t.TempDir()})
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "aws configure") || !strings.Contains(err.Error(), "--profile") {
		t.Fatalf("got %v", err)
	}
}

func TestUnknownProfile(t *testing.T) {
	awstest.Isolate(t)
	_, err := New(context.Background(), Options{Profile: "nope", Region: "eu-west-1", DisableIMDS: true, LedgerDir: t.TempDir()})
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), `profile "nope"`) {
		t.Fatalf("got %v", err)
	}
}

func TestRegion(t *testing.T) {
	b := awstest.Emulator(t)
	for _, region := range []string{"", "eu-westt", "EU-WEST-1"} {
		_, err := New(context.Background(), Options{Region: region, EndpointURL: b.URL, Credentials: b.Credentials(), DisableIMDS: true, LedgerDir: t.TempDir()})
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "region") {
			t.Errorf("region %q: %v", region, err)
		}
	}
	// A well-formed region where the thing is not: the error says where it is.
	c := newClient(t, b)
	if _, err := c.Provision(context.Background(), ProvisionOptions{Thing: "here", Key: KeyECP256}); err != nil {
		t.Fatal(err)
	}
	other, err := New(context.Background(), Options{Region: "us-east-2", EndpointURL: b.URL, Credentials: b.Credentials(), DisableIMDS: true, LedgerDir: c.Ledger.Dir})
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.Status(context.Background(), "here")
	var nf *NotFoundError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "eu-west-1") || !strings.Contains(err.Error(), "--region") {
		t.Errorf("status in the wrong region: %v", err)
	}
}

func TestBadCredentials(t *testing.T) {
	b := awstest.Emulator(t)
	c, err := New(context.Background(), Options{Region: b.Region, EndpointURL: b.URL, DisableIMDS: true, LedgerDir: t.TempDir(),
		Credentials: credentials.NewStaticCredentialsProvider(emulator.AccessKeyID, "wrong-secret", "")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Provision(context.Background(), ProvisionOptions{Thing: "x"})
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "secret access key is wrong") {
		t.Errorf("wrong secret: %v", err)
	}
	c, _ = New(context.Background(), Options{Region: b.Region, EndpointURL: b.URL, DisableIMDS: true, LedgerDir: t.TempDir(),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAUNKNOWN", "x", "")})
	_, err = c.Provision(context.Background(), ProvisionOptions{Thing: "x"})
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "does not recognise the access key") {
		t.Errorf("unknown key: %v", err)
	}
}

func TestAccessDenied(t *testing.T) {
	for _, op := range []string{"iot:CreateThing", "iot:CreateCertificateFromCsr", "iot:AttachPolicy", "sts:GetCallerIdentity"} {
		b := awstest.Emulator(t)
		b.Emu.Inject(emulator.AccessDenied(op))
		c := newClient(t, b)
		_, err := c.Provision(context.Background(), ProvisionOptions{Thing: "denied", Key: KeyECP256})
		var ad *AccessDeniedError
		if !errors.As(err, &ad) || ad.Action != op || !strings.Contains(err.Error(), `IAM permission "`+op+`"`) {
			t.Errorf("%s: %v", op, err)
		}
		if ad != nil && ad.Identity != emulator.UserARN {
			t.Errorf("%s: identity %q", op, ad.Identity)
		}
	}
}

func TestThrottling(t *testing.T) {
	b := awstest.Emulator(t)
	b.Emu.Inject(emulator.Throttle("iot:CreateThing", 3))
	b.Emu.Inject(emulator.Throttle("iot:CreateCertificateFromCsr", 2))
	b.Emu.Inject(emulator.Throttle("sts:GetCallerIdentity", 1))
	c := newClient(t, b)
	if _, err := c.Provision(context.Background(), ProvisionOptions{Thing: "slow", Key: KeyECP256}); err != nil {
		t.Fatalf("throttled calls were not retried: %v", err)
	}
	count := map[string]int{}
	for _, call := range b.Emu.Calls() {
		count[call]++
	}
	if count["iot:CreateThing"] != 4 || count["iot:CreateCertificateFromCsr"] != 3 {
		t.Errorf("calls: %v", count)
	}
	assertConverged(t, c, "slow")

	// Throttled for good: a ThrottledError that says to wait.
	b.Emu.Inject(emulator.Throttle("iot:DescribeThing", 0))
	_, err := c.Provision(context.Background(), ProvisionOptions{Thing: "slow2", Key: KeyECP256})
	var te *ThrottledError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "wait") {
		t.Errorf("got %v", err)
	}
}

func TestBadInput(t *testing.T) {
	b := awstest.Emulator(t)
	c := newClient(t, b)
	ctx := context.Background()
	cases := map[string]ProvisionOptions{
		"thing name": {Thing: "bad name!"},
		"too long":   {Thing: strings.Repeat("x", 129)},
		"no thing":   {},
		"mac":        {MAC: "a4:cf:12"},
		"key":        {Thing: "k", Key: "dsa"},
		"ca":         {Thing: "k", CA: "AmazonRootCA9"},
		"policy":     {Thing: "k", PolicyDocument: []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect"}]}`)},
	}
	for name, o := range cases {
		_, err := c.Provision(ctx, o)
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Errorf("%s: %v, want InputError", name, err)
		}
	}
	if len(b.Emu.Calls()) != 0 {
		t.Errorf("bad input reached AWS: %v", b.Emu.Calls())
	}
	// AWS's own check of a policy the bench did not parse first.
	_, _, err := c.EnsurePolicy(ctx, "p", []byte(`{"Version":"2012-10-17","Statement":[]}`))
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Errorf("empty statement: %v", err)
	}
	if err := ValidateThingName("esp8266-a1b2c3:x_y"); err != nil {
		t.Error(err)
	}
	if n, err := DefaultThingName("ESP32", "24-6F-28-AA-BB-CC"); err != nil || n != "esp32-aabbcc" {
		t.Errorf("DefaultThingName: %q %v", n, err)
	}
}

func TestRootCAs(t *testing.T) {
	dir, err := shareddata.Dir("aws")
	if err != nil {
		t.Skip(err)
	}
	want := map[string]struct{ fileSHA, sha256, sha1, cn string }{
		RootCA1: {"2c43952ee9e000ff2acc4e2ed0897c0a72ad5fa72c3d934e81741cbd54f05bd1", "8ECDE6884F3D87B1125BA31AC3FCB13D7016DE7F57CC904FE1CB97C6AE98196E", "8DA7F965EC5EFC37910F1C6E59FDC1CC6A6EDE16", "Amazon Root CA 1"},
		RootCA3: {"3eb7c3258f4af9222033dc1bb3dd2c7cfa0982b98e39fb8e9dc095cfeb38126c", "18CE6CFE7BF14E60B2E347B8DFE868CB31D02EBB3ADA271569F50343B46DB3A4", "0D44DD8C3C8C1A1A58756481E90F2E2AFFB3D26E", "Amazon Root CA 3"},
	}
	for name, w := range want {
		embedded, err := RootCAPEM(name)
		if err != nil {
			t.Fatal(err)
		}
		shared, err := os.ReadFile(filepath.Join(dir, name+".pem"))
		if err != nil {
			t.Fatal(err)
		}
		if string(shared) != string(embedded) {
			t.Errorf("%s: embedded copy differs from shared/testdata", name)
		}
		fs := sha256.Sum256(embedded)
		if hex.EncodeToString(fs[:]) != w.fileSHA {
			t.Errorf("%s: file SHA-256 %x", name, fs)
		}
		c, err := RootCA(name)
		if err != nil {
			t.Fatal(err)
		}
		s256 := sha256.Sum256(c.Raw)
		s1 := sha1.Sum(c.Raw)
		if strings.ToUpper(hex.EncodeToString(s256[:])) != w.sha256 || strings.ToUpper(hex.EncodeToString(s1[:])) != w.sha1 {
			t.Errorf("%s: fingerprints %X / %X", name, s256, s1)
		}
		if c.Subject.CommonName != w.cn || c.Issuer.CommonName != w.cn || !c.IsCA {
			t.Errorf("%s: subject %v issuer %v", name, c.Subject, c.Issuer)
		}
	}
}

func TestRuleAndHistory(t *testing.T) {
	awstest.Each(t, func(t *testing.T, b *awstest.Backend) {
		ctx := context.Background()
		if b.Emu != nil {
			b.Emu.RolePropagation = 300 * time.Millisecond
		}
		c := newClient(t, b)
		var log eventLog
		res, err := c.CreateRule(ctx, RuleOptions{TTL: 30 * 24 * time.Hour, OnEvent: log.add})
		if err != nil {
			t.Fatalf("%v\n%s", err, log.String())
		}
		if res.SQL != "SELECT *, topic(2) AS device, timestamp() AS ts, floor(timestamp() / 1000) + 2592000 AS expires_at FROM 'iotbench/+/telemetry'" {
			t.Errorf("SQL %q", res.SQL)
		}
		if b.Emu != nil && !log.has("rule", "waiting") {
			t.Errorf("no wait for IAM propagation:\n%s", log.String())
		}
		for _, step := range []string{"table", "role", "rule"} {
			if !log.has(step, "done") {
				t.Errorf("step %s not done:\n%s", step, log.String())
			}
		}
		// Again: everything exists.
		var again eventLog
		if _, err := c.CreateRule(ctx, RuleOptions{TTL: 30 * 24 * time.Hour, OnEvent: again.add}); err != nil {
			t.Fatal(err)
		}
		for _, step := range []string{"table", "role", "rule"} {
			if !again.has(step, "exists") {
				t.Errorf("re-run: step %s:\n%s", step, again.String())
			}
		}
		// A changed rule is replaced.
		var third eventLog
		if _, err := c.CreateRule(ctx, RuleOptions{OnEvent: third.add}); err != nil {
			t.Fatal(err)
		}
		if !third.has("rule", "updated") {
			t.Errorf("rule not replaced:\n%s", third.String())
		}
		now := time.Now()
		at := []time.Time{now.Add(-3 * time.Hour), now.Add(-40 * time.Minute), now.Add(-5 * time.Minute)}
		for i, ts := range at {
			payload := `{"temp": ` + []string{"20.5", "21", "22.25"}[i] + `, "device": "forged"}`
			if b.Emu != nil {
				// The rule runs on a publish, topic(2) overrides the payload.
				n, err := b.Emu.Publish(b.Region, "bench-1", "iotbench/bench-1/telemetry", []byte(payload), ts)
				if err != nil || n != 1 {
					t.Fatalf("publish: %d %v", n, err)
				}
			} else if err := c.PutReading(ctx, "", "bench-1", ts, map[string]any{"temp": []float64{20.5, 21, 22.25}[i]}); err != nil {
				t.Fatal(err)
			}
		}
		rs, err := c.History(ctx, HistoryOptions{Thing: "bench-1", Since: now.Add(-time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 2 || rs[0].Time.UnixMilli() != at[2].UnixMilli() || rs[1].Time.UnixMilli() != at[1].UnixMilli() {
			t.Fatalf("history: %+v", rs)
		}
		if rs[0].Fields["temp"] != "22.25" && rs[0].Fields["temp"] != any(jsonNumber("22.25")) {
			t.Errorf("fields: %v", rs[0].Fields)
		}
		if _, ok := rs[0].Fields["device"]; ok {
			t.Errorf("partition key leaked into fields: %v", rs[0].Fields)
		}
		rs, _ = c.History(ctx, HistoryOptions{Thing: "bench-1", Since: now.Add(-24 * time.Hour), Limit: 1})
		if len(rs) != 1 || rs[0].Time.UnixMilli() != at[2].UnixMilli() {
			t.Errorf("latest: %+v", rs)
		}
		_, err = c.History(ctx, HistoryOptions{Thing: "bench-1", Table: "missing-table", Since: now.Add(-time.Hour)})
		var nf *NotFoundError
		if !errors.As(err, &nf) || !strings.Contains(err.Error(), "rule create") {
			t.Errorf("missing table: %v", err)
		}
	})
}

func TestRuleNames(t *testing.T) {
	b := awstest.Emulator(t)
	c := newClient(t, b)
	_, err := c.CreateRule(context.Background(), RuleOptions{Rule: "iotbench-telemetry"})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "no '-'") {
		t.Errorf("got %v", err)
	}
}

func jsonNumber(s string) any { return json.Number(s) }

// An endpoint that refuses connections fails at once with a clear error,
// not after the throttling retries (issue 8: AWS unreachable is a finding,
// never a hang).
func TestUnreachableIsNotRetried(t *testing.T) {
	b := awstest.Emulator(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	c, err := New(context.Background(), Options{Region: "eu-west-1", EndpointURL: closed, Credentials: b.Credentials(), DisableIMDS: true, LedgerDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Identity(context.Background())
	if err == nil || !strings.Contains(err.Error(), "cannot reach AWS") {
		t.Fatalf("err = %v", err)
	}
	var tooMany *retry.MaxAttemptsError
	if errors.As(err, &tooMany) {
		t.Fatalf("a refused connection was retried %d times", tooMany.Attempt)
	}
}
