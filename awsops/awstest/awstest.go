// Package awstest owns the AWS backends iotbench's tests run against: the
// in-repo emulator (always) and moto's server (when python3 can import
// moto.server), both on loopback, with the environment isolated so that
// nothing can reach AWS: no shared config or credentials files, no profile,
// no instance metadata service.
//
// IOTBENCH_MOTO selects moto's use: unset, moto runs when available and its
// tests skip otherwise; "required" makes a missing or broken moto a test
// failure (CI); "off" skips it. IOTBENCH_PYTHON names the interpreter
// (default python3).
package awstest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/iotbench/iotbench/awsops/emulator"
)

// Region is the region every backend is used in.
const Region = "eu-west-1"

// Backend is an AWS endpoint for one test.
type Backend struct {
	Name   string // "emulator" or "moto"
	URL    string
	Region string
	// Emu is the emulator (nil for moto): fault injection, simulated
	// publishes.
	Emu                          *emulator.Server
	AccessKeyID, SecretAccessKey string
}

// Credentials are static credentials the backend accepts.
func (b *Backend) Credentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(b.AccessKeyID, b.SecretAccessKey, "")
}

// IsMoto says whether the backend is moto, for the known differences.
func (b *Backend) IsMoto() bool { return b.Name == "moto" }

// Isolate points the SDK's configuration away from the developer's real
// AWS setup and turns off the instance metadata service, for the rest of
// the test.
func Isolate(t testing.TB) {
	t.Helper()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE": empty, "AWS_SHARED_CREDENTIALS_FILE": empty,
		"AWS_EC2_METADATA_DISABLED": "true",
		"XDG_DATA_HOME":             filepath.Join(dir, "data"), "HOME": dir,
	} {
		t.Setenv(k, v)
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_IOT",
		"AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_IAM", "AWS_ENDPOINT_URL_STS",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"} {
		unsetenv(t, k)
	}
}

// unsetenv removes a variable for the rest of the test (t.Setenv can only
// set one, and an empty AWS_PROFILE names a profile "").
func unsetenv(t testing.TB, k string) {
	t.Helper()
	t.Setenv(k, "") // marks the test as not parallel and restores k afterwards
	os.Unsetenv(k)
}

// Emulator starts a fresh emulator for the test.
func Emulator(t testing.TB) *Backend {
	t.Helper()
	Isolate(t)
	emu, err := emulator.New()
	if err != nil {
		t.Fatal(err)
	}
	url, err := emu.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	return &Backend{Name: "emulator", URL: url, Region: Region, Emu: emu,
		AccessKeyID: emulator.AccessKeyID, SecretAccessKey: emulator.SecretAccessKey}
}

var moto struct {
	once sync.Once
	mu   sync.Mutex // moto's state is global: its tests run one at a time
	url  string
	cmd  *exec.Cmd
	out  bytes.Buffer
	log  lockedWriter
	err  error
}

// Moto returns the shared moto server, reset, for the test; the test has
// it to itself until it ends. It skips the test when moto is unavailable
// (fails it when IOTBENCH_MOTO=required).
func Moto(t testing.TB) *Backend {
	t.Helper()
	Isolate(t)
	switch os.Getenv("IOTBENCH_MOTO") {
	case "off":
		t.Skip("IOTBENCH_MOTO=off")
	}
	moto.once.Do(startMoto)
	if moto.err != nil {
		if os.Getenv("IOTBENCH_MOTO") == "required" {
			t.Fatalf("moto is required (IOTBENCH_MOTO=required) but did not start: %v", moto.err)
		}
		t.Skipf("moto not available: %v", moto.err)
	}
	moto.mu.Lock()
	t.Cleanup(moto.mu.Unlock)
	resp, err := http.Post(moto.url+"/moto-api/reset", "application/json", nil)
	if err != nil {
		t.Fatalf("resetting moto: %v", err)
	}
	resp.Body.Close()
	return &Backend{Name: "moto", URL: moto.url, Region: Region, AccessKeyID: "testing", SecretAccessKey: "testing"}
}

func startMoto() {
	py := os.Getenv("IOTBENCH_PYTHON")
	if py == "" {
		py = "python3"
	}
	if _, err := exec.LookPath(py); err != nil {
		moto.err = fmt.Errorf("%s not found", py)
		return
	}
	if out, err := exec.Command(py, "-c", "import moto.server").CombinedOutput(); err != nil {
		moto.err = fmt.Errorf("%s cannot import moto.server: %s", py, bytes.TrimSpace(out))
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		moto.err = err
		return
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(py, "-m", "moto.server", "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	// moto is started once and outlives the test that started it: give it
	// an environment of its own, with no AWS settings at all.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing")
	moto.log.w = &moto.out
	cmd.Stdout, cmd.Stderr = &moto.log, &moto.log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		moto.err = err
		return
	}
	moto.cmd = cmd
	moto.url = "http://127.0.0.1:" + strconv.Itoa(port)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		resp, err := http.Get(moto.url + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	moto.err = fmt.Errorf("moto did not answer on %s within 60 s", moto.url)
	StopMoto()
}

// StopMoto ends the shared moto server; call it from TestMain after
// m.Run.
func StopMoto() {
	if moto.cmd != nil && moto.cmd.Process != nil {
		syscall.Kill(-moto.cmd.Process.Pid, syscall.SIGKILL)
		moto.cmd.Wait()
		moto.cmd = nil
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w.Len() > 1<<20 {
		return len(p), nil
	}
	return l.w.Write(p)
}

// Each runs f against the emulator and then against moto, as subtests.
func Each(t *testing.T, f func(t *testing.T, b *Backend)) {
	t.Run("emulator", func(t *testing.T) { f(t, Emulator(t)) })
	t.Run("moto", func(t *testing.T) { f(t, Moto(t)) })
}

// MotoLog is what moto printed so far (for failing tests).
func MotoLog() string {
	moto.log.mu.Lock()
	defer moto.log.mu.Unlock()
	return moto.out.String()
}

// Reset empties the backend's account (within the same test).
func (b *Backend) Reset(t testing.TB) {
	t.Helper()
	if b.Emu != nil {
		b.Emu.Reset()
		return
	}
	resp, err := http.Post(b.URL+"/moto-api/reset", "application/json", nil)
	if err != nil {
		t.Fatalf("resetting moto: %v", err)
	}
	resp.Body.Close()
}
