package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/flasher/ota"
	"github.com/iotbench/iotbench/provision"
	"github.com/iotbench/iotbench/virtualboard/arduinoota"
)

// The README's run command: blank virtual board to a verified publish on
// the local cloud, with the flow's steps in order.
func TestDemoVerifies(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"demo", "--speed", "50"}, noenv, nil, &out, &errb)
	if code != exitOK {
		t.Fatalf("demo exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	text := out.String()
	last := -1
	for _, want := range []string{"✓ port", "✓ chip", "✓ identity", "✓ files", "✓ image", "✓ flash", "✓ reset", "✓ boot", "✓ publish", "★ publish  verified", "Verified: esp8266-d3105e published on iotbench/esp8266-d3105e/telemetry"} {
		i := strings.Index(text, want)
		if i < 0 || i < last {
			t.Fatalf("demo output lacks %q (or out of order):\n%s", want, text)
		}
		last = i
	}
	// The board's own account, decoded (the publish itself may be seen on
	// the broker before the board's later lines are read).
	if !strings.Contains(text, "| filesystem mounted:") || !strings.Contains(text, "| Wi-Fi connected") {
		t.Errorf("demo output lacks the board's decoded log:\n%s", text)
	}
}

// The same on a virtual ESP32-C3: the merged image at 0x0, the
// filesystem in the default table's spiffs partition, verified; with the
// filesystem flashed elsewhere the doctor finds it there.
func TestDemoESP32C3(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"demo", "--speed", "50", "--chip", "esp32c3"}, noenv, nil, &out, &errb)
	text := out.String()
	if code != exitOK || !strings.Contains(text, "Virtual ESP32-C3") || !strings.Contains(text, "partition spiffs (table from the merged image") ||
		!strings.Contains(text, "Verified: esp32c3-d3105e published on iotbench/esp32c3-d3105e/telemetry") {
		t.Fatalf("demo --chip esp32c3: exit %d\n%s\n%s", code, text, errb.String())
	}
	out.Reset()
	code = run(context.Background(), []string{"demo", "--speed", "50", "--chip", "esp32c3", "--fault", "fs-offset"}, noenv, nil, &out, &errb)
	if code != exitNotVerified || !strings.Contains(out.String(), "0x190000") || !strings.Contains(out.String(), "--fs-partition spiffs") {
		t.Fatalf("demo --chip esp32c3 --fault fs-offset: exit %d\n%s", code, out.String())
	}
	if code := run(context.Background(), []string{"demo", "--chip", "esp31"}, noenv, nil, &out, &errb); code != exitUsage {
		t.Fatalf("unknown chip: exit %d", code)
	}
}

// Issue 8's fault table: every injected fault leaves the board unverified
// (exit 8) and the doctor's top finding names the real cause.
func TestDemoFaults(t *testing.T) {
	cases := map[string]string{
		"clock":         "serial.clock",
		"no-wifi":       "serial.wifi",
		"wrong-ca":      "tls.ca_mismatch",
		"corrupt-key":   "files.key_invalid",
		"inactive-cert": "cert.inactive",
		"policy-deny":   "policy.publish_denied",
		"fs-offset":     "fs.wrong_place",
	}
	if len(cases) != len(demoFaults) {
		t.Fatalf("the table covers %d faults, the demo has %d", len(cases), len(demoFaults))
	}
	for fault, want := range cases {
		t.Run(fault, func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			code := run(context.Background(), []string{"--json", "demo", "--speed", "50", "--fault", fault}, noenv, nil, &out, &errb)
			if code != exitNotVerified {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, exitNotVerified, out.String(), errb.String())
			}
			var result struct {
				Boards []struct {
					Verified bool
					Report   struct {
						Findings []struct{ Code, Summary, Fix string }
					}
				}
			}
			sc := bufio.NewScanner(&out)
			sc.Buffer(nil, 1<<20)
			found := false
			for sc.Scan() {
				var head struct{ Type string }
				if json.Unmarshal(sc.Bytes(), &head) == nil && head.Type == "result" {
					if err := json.Unmarshal(sc.Bytes(), &result); err != nil {
						t.Fatal(err)
					}
					found = true
				}
			}
			if !found || len(result.Boards) != 1 || result.Boards[0].Verified {
				t.Fatalf("no unverified result:\n%s", out.String())
			}
			fs := result.Boards[0].Report.Findings
			if len(fs) == 0 || fs[0].Code != want {
				t.Fatalf("top finding %+v, want %s", fs, want)
			}
			if fs[0].Fix == "" {
				t.Fatalf("finding without a fix: %+v", fs[0])
			}
		})
	}
}

// After provisioning, the board takes a new sketch over the air (ArduinoOTA
// with the password from config.json), eboot copies it into place on the
// next boot, and the firmware publishes again from its first sequence
// number.
func TestDemoBoardUpdatesOverTheAir(t *testing.T) {
	env, err := newDemoEnv(image.ChipESP8266, 50, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer env.close(false, nil)
	res, err := provision.RunAll(context.Background(), env.targets, env.opts, nil)
	if err != nil || !res[0].Verified {
		t.Fatalf("provision: %v %+v", err, res[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	msgs, err := env.opts.Cloud.Watch(ctx, res[0].Topic)
	if err != nil {
		t.Fatal(err)
	}
	next, err := arduinoota.SketchImage(demoSketchVersion+1, 40<<10)
	if err != nil {
		t.Fatal(err)
	}
	addr := env.ota[0].Addr()
	if _, err := ota.Upload(ctx, ota.Options{Host: addr.IP.String(), Port: addr.Port, Password: "wrong"}, next, nil); err == nil {
		t.Fatal("upload with a wrong password accepted")
	}
	done := time.Now()
	if _, err := ota.Upload(ctx, ota.Options{Host: addr.IP.String(), Port: addr.Port, Password: demoOTAPassword}, next, nil); err != nil {
		t.Fatalf("upload: %v", err)
	}
	for {
		select {
		case <-ctx.Done():
			t.Fatal("no publish after the update")
		case m := <-msgs:
			p, err := firmware.ParsePayload(m.Payload)
			if err != nil || m.At.Before(done) || p.Seq != 0 {
				continue // the old run's messages
			}
			// The new sketch is in place: its version marker at 0x1000+16.
			got := env.boards[0].Flash().Read(0x1000+16, 4)
			if v := uint32(got[0]) | uint32(got[1])<<8 | uint32(got[2])<<16 | uint32(got[3])<<24; v != demoSketchVersion+1 {
				t.Fatalf("after the update the sketch at 0x1000 is v%08x", v)
			}
			return
		}
	}
}
