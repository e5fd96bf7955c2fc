package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/internal/shareddata"
	"github.com/iotbench/iotbench/virtualboard"
)

// CLI tests are txtar scripts (testdata/script), as soft-serve does: each
// runs the real binary against a virtual board served over RFC 2217 on
// loopback by the test process.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"iotbench": func() {
			os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
		},
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("IOTBENCH_PORT", "")
			shared, err := shareddata.Dir("")
			if err != nil {
				return err
			}
			env.Setenv("SHARED", shared)
			return nil
		},
		Cmds: scriptCmds,
	})
}

// scriptCmds are the custom script commands. Test files of other command
// groups add theirs in init() (e.g. a fake cloud for the aws scripts), so
// this file does not need to know them.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"vboard":   cmdVBoard,
	"vbflash":  cmdVBFlash,
	"mkrand":   cmdMkrand,
	"mkstub":   cmdMkstub,
	"mkimage":  cmdMkimage,
	"exitcode": cmdExitCode,
}

// boards keeps each script's board for vbflash (scripts run in parallel).
var boards sync.Map // *testscript.TestScript → *virtualboard.Board

// vboard [-noautoreset] [-garbage] [-mute]: start a virtual ESP8266 (clock
// ×1000) and put its RFC 2217 URL in $VB.
func cmdVBoard(ts *testscript.TestScript, neg bool, args []string) {
	cfg := virtualboard.Config{Speed: 1000}
	var garbage, mute bool
	for _, a := range args {
		switch a {
		case "-noautoreset":
			cfg.NoAutoReset = true
		case "-garbage":
			garbage = true
		case "-mute":
			mute = true
		default:
			ts.Fatalf("vboard: unknown flag %s", a)
		}
	}
	b, err := virtualboard.New(cfg)
	ts.Check(err)
	b.SetGarbage(garbage)
	b.SetMute(mute)
	srv, err := b.ServeRFC2217("127.0.0.1:0")
	ts.Check(err)
	ts.Defer(func() { srv.Close(); b.Close(); boards.Delete(ts) })
	boards.Store(ts, b)
	ts.Setenv("VB", srv.URL())
}

// vbflash ADDR FILE: the board's flash at ADDR holds exactly FILE.
func cmdVBFlash(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: vbflash ADDR FILE")
	}
	addr, err := strconv.ParseUint(args[0], 0, 32)
	ts.Check(err)
	want, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	v, ok := boards.Load(ts)
	if !ok {
		ts.Fatalf("vbflash: no vboard in this script")
	}
	got := v.(*virtualboard.Board).Flash().Read(uint32(addr), len(want))
	if bytes.Equal(got, want) == neg {
		ts.Fatalf("flash at %s equals %s: %v", args[0], args[1], !neg)
	}
}

// mkrand FILE SIZE [SEED]
func cmdMkrand(ts *testscript.TestScript, neg bool, args []string) {
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	seed := uint64(1)
	if len(args) > 2 {
		seed, _ = strconv.ParseUint(args[2], 0, 64)
	}
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	ts.Check(os.MkdirAll(filepath.Dir(ts.MkAbs(args[0])), 0o755))
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
}

// mkstub FILE: a stub JSON in esptool's format at the ESP8266 legacy
// stub's addresses; the virtual board does not execute the code.
func cmdMkstub(ts *testscript.TestScript, neg bool, args []string) {
	j, _ := json.Marshal(map[string]any{
		"entry": 0x4010D004, "text": base64.StdEncoding.EncodeToString(make([]byte, 0x2054)), "text_start": 0x4010D000,
		"data": base64.StdEncoding.EncodeToString(make([]byte, 0x300)), "data_start": 0x3FFFACAC,
	})
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), j, 0o644))
}

// mkimage FILE: a small valid ESP8266 v1 image (qio, 4MB, 40m).
func cmdMkimage(ts *testscript.TestScript, neg bool, args []string) {
	b, err := image.NewBuilder(image.ChipESP8266)
	ts.Check(err)
	b.Entry = 0x40100004
	b.FlashMode, b.FlashSize, b.FlashFreq = "qio", "4MB", "40m"
	b.Segments = []image.BuildSegment{{Addr: 0x40100000, Data: bytes.Repeat([]byte{0x12, 0x34, 0x56, 0x78}, 300)}}
	img, err := b.Build()
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), img, 0o644))
}

// exitcode N ARGS...: run iotbench ARGS and check the exit code
// (testscript's exec only tells zero from non-zero).
// scriptEnv is the environment for a command run by a script command: the
// test process's, without anything that could reach a real cloud or a
// real ledger (AWS_*, IOTBENCH_*, XDG_*), plus what the script set.
func scriptEnv(ts *testscript.TestScript) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "IOTBENCH_") || strings.HasPrefix(k, "XDG_") || k == "PATH" || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	for _, k := range []string{"PATH", "HOME", "IOTBENCH_PORT", "IOTBENCH_DATA_DIR", "IOTBENCH_WIFI_SSID", "IOTBENCH_WIFI_PASSWORD",
		"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"} {
		if v := ts.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	path, err := lookPath(ts, "iotbench")
	ts.Check(err)
	cmd := exec.Command(path, args[1:]...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = scriptEnv(ts)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("running iotbench: %v", err)
	}
	ts.Stdout().Write(out.Bytes())
	ts.Stderr().Write(errb.Bytes())
	if code != want {
		ts.Fatalf("exit code %d, want %d\nstderr: %s", code, want, errb.String())
	}
}

func lookPath(ts *testscript.TestScript, name string) (string, error) {
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not on the script's PATH", name)
}
