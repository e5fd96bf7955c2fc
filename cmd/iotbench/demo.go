package main

import (
	"context"
	"crypto/md5"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/iotbench/iotbench/awsops"
	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/localcloud"
	"github.com/iotbench/iotbench/provision"
	"github.com/iotbench/iotbench/virtualboard"
	"github.com/iotbench/iotbench/virtualboard/arduinoota"
	"github.com/iotbench/iotbench/virtualboard/twin"
)

// demoFaults are what `demo --fault` can break, each the way it breaks on
// a real bench.
var demoFaults = map[string]string{
	"clock":         "NTP never answers: the board's clock stays at 1970 and TLS rejects every certificate",
	"no-wifi":       "the Wi-Fi network in config.json is not in range",
	"wrong-ca":      "ca.der is Amazon Root CA 1 while the endpoint is the local cloud",
	"corrupt-key":   "private.der is damaged",
	"inactive-cert": "the board's certificate is INACTIVE in the cloud",
	"policy-deny":   "a policy denies publishing to the board's topic",
	"fs-offset":     "the filesystem image is flashed at the wrong offset (a wrong layout)",
}

func demoFaultList() string {
	var names []string
	for n := range demoFaults {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "  %-14s %s\n", n, demoFaults[n])
	}
	return b.String()
}

func (a *app) demoCommand() *cobra.Command {
	var speed float64
	var fault, chip string
	var keep, noTUI bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "The whole flow on a virtual board and the local cloud: blank → verified publish",
		Long: `Start a virtual ESP8266 (served over RFC 2217 on loopback, running the
reference firmware's twin) and the local cloud (a broker on loopback with its
own CA, in a temporary directory), then provision the board exactly as
'iotbench provision' provisions a real one: thing and certificate, config
and DER files in a LittleFS image, flash, reset, boot log, and the first
message on the board's topic. No hardware or AWS account is needed.

--fault breaks one thing, to show the doctor naming the cause and the fix:
` + demoFaultList() + `
The board's clock runs --speed times faster than real time, so the ROM
loader's 115200-baud transfer and the firmware's waits do not take long.

--chip esp32c3 (or esp32, esp32s3, …) runs the same flow on a virtual
ESP32-family board: a merged image (bootloader, arduino-esp32's default
partition table, app) is flashed at 0x0 and the filesystem goes into the
table's spiffs partition.

  iotbench demo
  iotbench demo --fault clock
  iotbench demo --chip esp32c3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if fault != "" && demoFaults[fault] == "" {
				return usagef("--fault %q: use one of\n%s", fault, demoFaultList())
			}
			c, err := image.CanonicalChip(chip)
			if err != nil {
				return usagef("--chip %q: %v", chip, err)
			}
			return a.runDemo(cmd.Context(), c, speed, fault, keep, noTUI)
		},
	}
	cmd.Flags().StringVar(&chip, "chip", "esp8266", "the virtual board's chip: esp8266, or an ESP32-family chip such as esp32c3")
	cmd.Flags().Float64Var(&speed, "speed", 20, "virtual board clock speed-up (1 = real time)")
	cmd.Flags().StringVar(&fault, "fault", "", "inject a fault (see above)")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the demo's local cloud directory (its CA, registry, telemetry) and print where it is")
	cmd.Flags().BoolVar(&noTUI, "no-tui", false, "print the run as text even on a terminal (the TUI is used when stdin and stdout are terminals)")
	return cmd
}

// The demo's OTA password and sketch version marker (what eboot prints
// as v%08x).
const (
	demoOTAPassword   = "iotbench-demo"
	demoSketchVersion = 0x1b0d0001
)

func (a *app) runDemo(ctx context.Context, chip string, speed float64, fault string, keep, noTUI bool) error {
	env, err := newDemoEnv(chip, speed, fault, 1)
	if err != nil {
		return err
	}
	defer env.close(keep, a.out)
	if !noTUI && a.tuiWanted() {
		return a.runDemoTUI(ctx, env, speed, fault)
	}
	host, port := env.broker.Endpoint()
	a.out.say("Local cloud: broker on %s, boards connect to %s:%d", env.broker.Addr(), host, port)
	a.out.say("Virtual %s (4 MB flash, clock ×%g) at %s", chip, speed, env.targets[0].Port)
	if fault != "" {
		a.out.say("Fault injected: %s — %s", fault, demoFaults[fault])
	}
	return a.provisionAndReport(ctx, env.targets, env.opts)
}

// demoEnv is the demo's bench: a local cloud in a temporary directory,
// virtual boards running the firmware twin served over RFC 2217, and the
// pipeline options that provision them (also used by the benchmarks).
type demoEnv struct {
	chip    string // image.ChipESP8266, image.ChipESP32C3, …
	dir     string
	ota     []*arduinoota.Device // each board's ArduinoOTA (and eboot)
	cloud   *localcloud.Cloud
	broker  *localcloud.Broker
	boards  []*virtualboard.Board
	servers []*virtualboard.RFC2217Server
	targets []provision.Target
	opts    provision.Options
}

func (e *demoEnv) close(keep bool, out *output) {
	for _, s := range e.servers {
		s.Close()
	}
	for _, b := range e.boards {
		b.Close()
	}
	for _, d := range e.ota {
		d.Close()
	}
	if e.broker != nil {
		e.broker.Close()
	}
	if e.cloud != nil {
		e.cloud.Close()
	}
	if keep {
		out.say("The demo's local cloud is in %s", e.dir)
	} else {
		os.RemoveAll(e.dir)
	}
}

func newDemoEnv(chip string, speed float64, fault string, boards int) (env *demoEnv, err error) {
	dir, err := os.MkdirTemp("", "iotbench-demo-")
	if err != nil {
		return nil, err
	}
	env = &demoEnv{chip: chip, dir: dir}
	defer func() {
		if err != nil {
			env.close(false, nil)
		}
	}()
	if env.cloud, err = localcloud.Open(dir); err != nil {
		return nil, err
	}
	lc := &provision.LocalCloud{Cloud: env.cloud}
	if env.broker, err = env.cloud.Serve(localcloud.ServeOptions{Addr: "127.0.0.1:0", Advertise: "localhost", OnEvent: lc.Observe}); err != nil {
		return nil, &cloudError{err}
	}
	lc.Broker = env.broker
	host, _ := env.broker.Endpoint()

	const ssid, password = "iotbench-bench", "bench-password"
	opts := twin.Options{Layout: "4M2M", FS: layout.LittleFS}
	o := provision.Options{Cloud: lc, WiFi: firmware.WiFi{SSID: ssid, Password: password}, Layout: "4M2M", FS: layout.LittleFS,
		TimeoutScale: 1 / speed, BootTimeout: time.Duration(float64(5*time.Minute) / speed), SettleAfterError: time.Duration(float64(60*time.Second) / speed)}
	o.BootTimeout = max(o.BootTimeout, 10*time.Second)
	o.SettleAfterError = max(o.SettleAfterError, 3*time.Second)
	var cloudFault func(*provision.Identity) error
	switch fault {
	case "clock":
		opts.NTP = twin.NTPNever
	case "no-wifi":
		opts.Networks = []twin.Network{}
	case "wrong-ca":
		pemCA, err := awsops.RootCAPEM(awsops.RootCA1)
		if err != nil {
			return nil, err
		}
		b, _ := pem.Decode(pemCA)
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return nil, err
		}
		o.Tamper = func(files map[string][]byte) { files[firmware.CAFile] = b.Bytes }
	case "corrupt-key":
		o.Tamper = func(files map[string][]byte) {
			k := append([]byte(nil), files[firmware.KeyFile]...)
			for i := 8; i < len(k); i += 7 {
				k[i] ^= 0x5A
			}
			files[firmware.KeyFile] = k
		}
	case "inactive-cert":
		cloudFault = func(id *provision.Identity) error {
			return env.cloud.SetCertificateStatus(id.CertificateID, localcloud.StatusInactive)
		}
	case "policy-deny":
		cloudFault = func(id *provision.Identity) error {
			doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iot:Publish","Resource":%q}]}`, localcloud.Scope.TopicARN(firmware.TopicRoot+"/*"))
			return env.cloud.SetPolicy("demo-deny-publish", []byte(doc), id.Thing)
		}
	case "fs-offset":
		l, _ := layout.ESP8266("4M2M")
		wrong := l.FS.Offset - 0x100000
		if chip != image.ChipESP8266 {
			p, _ := esp32DemoTable().FS()
			wrong = p.Offset - 0x100000
		}
		o.FSOffset = &wrong
	}
	if cloudFault != nil {
		o.Cloud = &faultyCloud{Cloud: lc, after: cloudFault}
	}
	// The twin resolves the endpoint name to the broker on loopback.
	opts.Resolve = func(ctx context.Context, h string) (string, error) {
		if h == host || h == "localhost" {
			return "127.0.0.1", nil
		}
		return "", fmt.Errorf("lookup %s: no such host", h)
	}
	opts.Networks = demoNetworks(opts.Networks, ssid, password)
	if chip != image.ChipESP8266 {
		return env, env.addESP32Boards(chip, speed, boards, opts, o, dir)
	}
	l, _ := layout.ESP8266("4M2M")
	o.OTAPasswordMD5 = fmt.Sprintf("%x", md5.Sum([]byte(demoOTAPassword)))
	for i := 0; i < boards; i++ {
		// ArduinoOTA on loopback, and eboot in front of the sketch, as the
		// Arduino core builds it.
		dev, err := arduinoota.New(arduinoota.Config{Layout: l})
		if err != nil {
			return nil, err
		}
		env.ota = append(env.ota, dev)
		bo := opts
		bo.NewOTA = twin.ArduinoOTA(dev)
		board, err := virtualboard.New(virtualboard.Config{Speed: speed, App: dev.WithEboot(twin.App(bo)), MAC: [6]byte{0x18, 0xfe, 0x34, 0xd3, 0x10, byte(0x5e + i)}})
		if err != nil {
			return nil, err
		}
		env.boards = append(env.boards, board)
		srv, err := board.ServeRFC2217("127.0.0.1:0")
		if err != nil {
			return nil, &portError{err}
		}
		env.servers = append(env.servers, srv)
		name := "virtual ESP8266"
		if boards > 1 {
			name = fmt.Sprintf("virtual ESP8266 #%d", i+1)
		}
		env.targets = append(env.targets, provision.Target{Name: name, Port: srv.URL()})
	}
	// The reference firmware as the core builds it: eboot at 0, the sketch
	// at 0x1000 (the board runs the twin in its place).
	app, err := arduinoota.SketchImage(demoSketchVersion, 32<<10)
	if err != nil {
		return nil, err
	}
	o.App, o.AppName = app, "reference firmware (twin)"
	if o.Ledger, err = provision.OpenLedger(dir + "/boards"); err != nil {
		return nil, err
	}
	env.opts = o
	return env, nil
}

// demoNetworks: the bench network is in range unless the fault removed it.
func demoNetworks(n []twin.Network, ssid, password string) []twin.Network {
	if n != nil {
		return n
	}
	return []twin.Network{{SSID: ssid, Password: password, RSSI: -58, Channel: 6}}
}

// faultyCloud applies a cloud-side fault right after the identity exists.
type faultyCloud struct {
	provision.Cloud
	after func(*provision.Identity) error
}

func (f *faultyCloud) EnsureIdentity(ctx context.Context, req provision.IdentityRequest, note func(string)) (*provision.Identity, error) {
	id, err := f.Cloud.EnsureIdentity(ctx, req, note)
	if err != nil {
		return nil, err
	}
	return id, f.after(id)
}
