package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/iotbench/iotbench/awsops"
	"github.com/iotbench/iotbench/doctor"
	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/localcloud"
	"github.com/iotbench/iotbench/provision"
	"github.com/iotbench/iotbench/serialmon"
)

// notVerifiedError: the pipeline ran but the board did not verify; the
// doctor's finding was printed.
type notVerifiedError struct {
	n, of int
	what  string // overrides the message
	code  int    // the exit code (default exitNotVerified)
}

func (e *notVerifiedError) Error() string {
	if e.what != "" {
		return e.what
	}
	if e.of == 1 {
		return "the board did not verify (see the finding above)"
	}
	return fmt.Sprintf("%d of %d boards did not verify (see the findings above)", e.n, e.of)
}

func init() {
	exitClassifiers = append(exitClassifiers, func(err error) (int, bool) {
		var nv *notVerifiedError
		if errors.As(err, &nv) {
			if nv.code != 0 {
				return nv.code, true
			}
			return exitNotVerified, true
		}
		return 0, false
	})
}

// provisionFlags are what provision and demo share.
type provisionFlags struct {
	cloud, cloudDir, brokerAddr, advertise string
	awsProfile, awsRegion, awsCA           string
	thing, keyType                         string
	wifiSSID, wifiPasswordFile             string
	layout, fs, app                        string
	partitions, fsPartition                string
	all                                    bool
	bootTimeout                            time.Duration
	interval                               int
	sensors                                []string
}

func (a *app) provisionCommand() *cobra.Command {
	f := &provisionFlags{}
	cmd := &cobra.Command{
		Use:   "provision [PORT...]",
		Short: "Take a board from blank to a verified publish (identity, files, flash, boot, first message)",
		Long: `Provision a board end to end: connect to its ROM loader, create (or reuse) its
thing and certificate in the cloud, write config.json and the DER files into a
filesystem image for its flash layout, flash it (and the firmware, with
--app), reset it, follow the boot log, and wait for the first message from
that thing on its topic. Only then is the board "verified" (exit code 0).
When it does not verify, the doctor says why and what to do (exit code 8).

Re-running on a provisioned board skips what is already true: the ledger,
keyed by MAC, remembers the thing and what was flashed, and the flash is
only rewritten when the chip does not hold the same bytes.

Boards: the PORT arguments (device paths or rfc2217:// URLs), or --port, or
--all for every ESP-looking USB port (boards are provisioned in parallel,
each with its own thing), or the only ESP-looking port.

The board must run firmware that reads these files: the reference sketch
(firmware/arduino), flashed before or with --app.

ESP8266: the filesystem goes where the flash layout puts it (--layout, default
the Arduino default for the flash size) and --app is written at 0x0.

ESP32, S2, S3, C3, C6, H2: the filesystem goes into the data partition of
subtype spiffs or littlefs (--fs-partition LABEL when there are several) of
the partition table: the one inside a merged --app image, else --partitions
(a CSV or binary file, or an arduino-esp32 scheme such as default), else the
table the chip holds at 0x8000, else — on a blank chip — arduino-esp32's
default for its flash size. A table that is not already on the chip is
written to 0x8000 in the same flash step. --app is either a merged image
(iotbench merge-bin: bootloader, partition table and app; written at 0x0) or
an app image (written at the table's factory or first OTA partition); which
one is told from the file: a merged image holds a partition table at 0x8000.
A blank ESP32 needs a bootloader and an app: without --app the ROM prints
"invalid header" and the doctor says so.

  iotbench provision --wifi-ssid bench --wifi-password-file pw.txt
  iotbench provision --all --app iotbench-ref.bin
  iotbench provision --app merged.bin rfc2217://benchpi:4001      # a blank ESP32-C3
  iotbench provision --partitions parts.csv --fs-partition data --app sketch.bin
  iotbench provision rfc2217://benchpi:4000 --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runProvision(cmd.Context(), f, args)
		},
	}
	a.provisionFlagSet(cmd, f)
	cmd.Flags().BoolVar(&f.all, "all", false, "provision every ESP-looking USB port, in parallel")
	return cmd
}

func (a *app) provisionFlagSet(cmd *cobra.Command, f *provisionFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.cloud, "cloud", "local", "where the thing lives: local (the built-in cloud) or aws (AWS IoT Core)")
	fl.StringVar(&f.awsProfile, "profile", "", "with --cloud aws: AWS profile from ~/.aws/config (default: $AWS_PROFILE or the default profile)")
	fl.StringVar(&f.awsRegion, "region", "", "with --cloud aws: AWS region, e.g. eu-west-1 (default: $AWS_REGION or the profile's)")
	fl.StringVar(&f.awsCA, "ca", awsops.RootCA1, "with --cloud aws: the Amazon root written as ca.der: AmazonRootCA1 (RSA) or AmazonRootCA3 (EC)")
	fl.StringVar(&f.cloudDir, "cloud-dir", "", "local cloud data directory (default $XDG_DATA_HOME/iotbench/localcloud)")
	fl.StringVar(&f.brokerAddr, "broker-addr", "0.0.0.0:8883", "where to run the local broker when iotbench cloud serve is not running")
	fl.StringVar(&f.advertise, "advertise", "", "host name or address boards connect to (default: this host's LAN address)")
	fl.StringVar(&f.thing, "thing", "", "thing name (default: from the chip and MAC, e.g. esp8266-a1b2c3; one board only)")
	fl.StringVar(&f.keyType, "key-type", "", "device key: ec (P-256) or rsa (2048); default: the cloud's")
	fl.StringVar(&f.wifiSSID, "wifi-ssid", a.getenv("IOTBENCH_WIFI_SSID"), "Wi-Fi network the board joins ($IOTBENCH_WIFI_SSID)")
	fl.StringVar(&f.wifiPasswordFile, "wifi-password-file", "", "file holding the Wi-Fi password (default $IOTBENCH_WIFI_PASSWORD; never passed on the command line)")
	fl.StringVar(&f.layout, "layout", "", "flash layout (default: the Arduino default for the board's flash size; see iotbench layouts)")
	fl.StringVar(&f.fs, "fs", "littlefs", "filesystem the firmware mounts: littlefs or spiffs")
	fl.StringVar(&f.app, "app", "", "firmware to flash as well: ESP8266 an image for 0x0; ESP32 family a merged image (for 0x0) or an app image (for the app partition)")
	fl.StringVar(&f.partitions, "partitions", "", "ESP32 family: partition table to use and write at 0x8000 (CSV or binary file, or a scheme such as default; default: the chip's)")
	fl.StringVar(&f.fsPartition, "fs-partition", "", "ESP32 family: label of the filesystem partition when the table has several")
	fl.DurationVar(&f.bootTimeout, "boot-timeout", 90*time.Second, "how long to wait after the reset for the first message")
	fl.IntVar(&f.interval, "interval", 10, "the board's publish interval in seconds")
	fl.StringSliceVar(&f.sensors, "sensor", nil, "sensor TYPE[:PIN] (repeatable): "+sensorTypeList()+"; default fake")
}

func sensorTypeList() string {
	var s []string
	for _, t := range firmware.SensorTypes {
		s = append(s, string(t))
	}
	return strings.Join(s, ", ")
}

// transferOptions are the pipeline options the global flags set: the
// transfer rate, the stub, the reset before connecting.
func (a *app) transferOptions() (provision.Options, error) {
	o := provision.Options{Baud: a.baud, NoStub: a.noStub, StubFile: a.stubFile, ConnectAttempts: a.connectAttempts}
	if a.baud == 115200 {
		o.Baud = 0 // the pipeline's default: fast where a stub allows it
	}
	before, err := flasher.ParseBefore(a.before)
	if err != nil {
		return o, usagef("%v", err)
	}
	o.Before = before
	return o, nil
}

// pipelineOptions turns the flags into provision options (without the
// cloud, which the caller opens).
func (a *app) pipelineOptions(f *provisionFlags) (provision.Options, error) {
	o, err := a.transferOptions()
	if err != nil {
		return o, err
	}
	o.Thing, o.KeyType, o.Layout, o.Partitions, o.FSPartition = f.thing, f.keyType, f.layout, f.partitions, f.fsPartition
	o.BootTimeout, o.PublishIntervalS = f.bootTimeout, f.interval
	kind, err := layout.ParseFSKind(f.fs)
	if err != nil {
		return o, usagef("%v", err)
	}
	o.FS = kind
	if f.layout != "" {
		if _, err := layout.ESP8266(f.layout); err != nil {
			return o, usagef("%v", err)
		}
	}
	if f.layout != "" && (f.partitions != "" || f.fsPartition != "") {
		return o, usagef("--layout is for ESP8266 flash layouts, --partitions/--fs-partition for ESP32 partition tables: give one")
	}
	if f.partitions != "" {
		// Checked now, against no flash size yet, so a typo costs no
		// board time; the pipeline checks it against the chip's flash.
		if _, _, err := layout.LoadTable(f.partitions, 0); err != nil {
			return o, &flasher.InputError{Msg: "--partitions: " + err.Error()}
		}
	}
	if f.wifiSSID == "" {
		return o, usagef("no Wi-Fi network: pass --wifi-ssid NAME (or set IOTBENCH_WIFI_SSID); the board needs it to reach the cloud")
	}
	pw := a.getenv("IOTBENCH_WIFI_PASSWORD")
	if f.wifiPasswordFile != "" {
		b, err := os.ReadFile(f.wifiPasswordFile)
		if err != nil {
			return o, &flasher.InputError{Msg: fmt.Sprintf("--wifi-password-file: %v", err)}
		}
		pw = strings.TrimRight(string(b), "\r\n")
	}
	o.WiFi = firmware.WiFi{SSID: f.wifiSSID, Password: pw}
	for _, s := range f.sensors {
		typ, pin, hasPin := strings.Cut(s, ":")
		sn := firmware.Sensor{Type: firmware.SensorType(typ), Name: typ, Pin: -1, IntervalS: f.interval}
		if hasPin {
			var p int
			if _, err := fmt.Sscanf(pin, "%d", &p); err != nil {
				return o, usagef("--sensor %s: the pin must be a number", s)
			}
			sn.Pin = p
		}
		o.Sensors = append(o.Sensors, sn)
	}
	if f.app != "" {
		b, err := readInputFile(f.app)
		if err != nil {
			return o, err
		}
		o.App, o.AppName = b, f.app
	}
	led, err := provision.OpenLedger("")
	if err != nil {
		return o, err
	}
	o.Ledger = led
	return o, nil
}

// openCloud opens the cloud the flags name. The returned stop releases
// what it started (an in-process broker).
func (a *app) openCloud(ctx context.Context, f *provisionFlags) (provision.Cloud, func(), error) {
	switch f.cloud {
	case "aws":
		c, done, err := a.awsClient(ctx, &awsFlags{profile: f.awsProfile, region: f.awsRegion})
		if err != nil {
			return nil, nil, err
		}
		if _, err := awsops.RootCAPEM(f.awsCA); err != nil {
			done()
			return nil, nil, usagef("--ca: %v", err)
		}
		ac := provision.NewAWSCloud(c, c.Credentials())
		ac.CA = f.awsCA
		a.out.say("AWS IoT Core in %s: boards get the account's iot:Data-ATS endpoint; the first publish is watched over a SigV4 WebSocket", c.Region())
		return ac, done, nil
	case "local":
		c, err := a.openLocalCloud(f.cloudDir)
		if err != nil {
			return nil, nil, err
		}
		if addr, err := c.LocalAddress(); err == nil && brokerRunning(addr) {
			return provision.NewLocalCloud(c, nil), func() { c.Close() }, nil
		}
		lc := &provision.LocalCloud{Cloud: c}
		b, err := c.Serve(localcloud.ServeOptions{Addr: f.brokerAddr, Advertise: f.advertise, OnEvent: lc.Observe})
		if err != nil {
			c.Close()
			return nil, nil, &cloudError{err}
		}
		lc.Broker = b
		host, port := b.Endpoint()
		a.out.say("Local cloud broker on %s (boards connect to %s:%d)", b.Addr(), host, port)
		return lc, func() { b.Close(); c.Close() }, nil
	}
	return nil, nil, usagef("--cloud %q: use local or aws", f.cloud)
}

// cloudError marks failures of the cloud side (exit code 7).
type cloudError struct{ err error }

func (e *cloudError) Error() string { return e.err.Error() }
func (e *cloudError) Unwrap() error { return e.err }

func init() {
	exitClassifiers = append(exitClassifiers, func(err error) (int, bool) {
		var ce *cloudError
		if errors.As(err, &ce) {
			return exitCloud, true
		}
		return 0, false
	})
}

// targets resolves which boards to provision.
func (a *app) targets(args []string, all bool) ([]provision.Target, error) {
	specs := append([]string(nil), args...)
	if len(specs) == 0 && a.port != "" {
		specs = []string{a.port}
	}
	if len(specs) == 0 {
		ports, err := serialmon.ListPorts()
		if err != nil {
			return nil, &portError{fmt.Errorf("listing serial ports: %w (pass a PORT)", err)}
		}
		if all {
			for _, p := range ports {
				if p.LikelyESP {
					specs = append(specs, p.Path)
				}
			}
			if len(specs) == 0 {
				return nil, &portError{serialmon.ErrNoPort}
			}
		} else {
			p, err := serialmon.ChoosePort(ports)
			if err != nil {
				return nil, err
			}
			specs = []string{p.Path}
		}
	}
	var ts []provision.Target
	for _, s := range specs {
		ts = append(ts, provision.Target{Name: s, Port: s})
	}
	return ts, nil
}

func (a *app) runProvision(ctx context.Context, f *provisionFlags, args []string) error {
	o, err := a.pipelineOptions(f)
	if err != nil {
		return err
	}
	ts, err := a.targets(args, f.all)
	if err != nil {
		return err
	}
	if len(ts) > 1 && f.thing != "" {
		return usagef("--thing names one board; with several boards each gets a name from its MAC")
	}
	// A path that is not there fails now, before a cloud is started.
	for _, t := range ts {
		if !strings.Contains(t.Port, "://") {
			if _, err := os.Stat(t.Port); err != nil {
				return &portError{fmt.Errorf("%s: no such port; list ports with `iotbench ports`", t.Port)}
			}
		}
	}
	cloud, stop, err := a.openCloud(ctx, f)
	if err != nil {
		return err
	}
	defer stop()
	o.Cloud = cloud
	return a.provisionAndReport(ctx, ts, o)
}

// provisionAndReport runs the pipeline on the targets and renders it.
func (a *app) provisionAndReport(ctx context.Context, ts []provision.Target, o provision.Options) error {
	r := newProvisionRenderer(a.out, a.stdout, len(ts) > 1)
	results, err := provision.RunAll(ctx, ts, o, r.event)
	if err != nil {
		return usagef("%v", err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	failed := 0
	for _, res := range results {
		if !res.Verified {
			failed++
		}
	}
	r.summary(results)
	if a.jsonOut {
		a.out.result(map[string]any{"boards": results, "verified": failed == 0})
	}
	if failed > 0 {
		return &notVerifiedError{n: failed, of: len(results), code: failureCode(results)}
	}
	return nil
}

// failureCode: when every failed board stopped at the same early step,
// the exit code says which (no port, no loader answering); failures once
// the board is reached are "not verified".
func failureCode(results []*provision.Result) int {
	code := 0
	for _, r := range results {
		if r.Verified {
			continue
		}
		c := exitNotVerified
		if n := len(r.Steps); n > 0 && r.Steps[n-1].Status == provision.KindFailed {
			switch r.Steps[n-1].Step {
			case provision.StepPort:
				c = exitPort
			case provision.StepChip:
				c = exitConnect
			}
		}
		if code != 0 && code != c {
			return exitNotVerified
		}
		code = c
	}
	return code
}

// provisionRenderer prints pipeline events: one line per finished step,
// evidence from the board indented, a progress line while flashing.
type provisionRenderer struct {
	out   *output
	w     io.Writer
	multi bool
	mu    sync.Mutex
	last  map[string]time.Time
}

func newProvisionRenderer(out *output, w io.Writer, multi bool) *provisionRenderer {
	return &provisionRenderer{out: out, w: w, multi: multi, last: map[string]time.Time{}}
}

var stepMarks = map[provision.Kind]string{provision.KindDone: "✓", provision.KindSkipped: "=", provision.KindFailed: "✗", provision.KindVerified: "★"}

func (r *provisionRenderer) event(e provision.Event) {
	if r.out.json {
		r.out.jsonLine("provision", e)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	prefix := ""
	if r.multi {
		prefix = "[" + e.Board + "] "
	}
	switch e.Kind {
	case provision.KindStart:
		if e.Message != "" {
			r.out.say("%s  … %-8s %s", prefix, e.Step, e.Message)
		}
	case provision.KindProgress:
		if e.Total > 0 {
			if !r.out.tty {
				return
			}
			now := time.Now()
			if e.Done < e.Total && now.Sub(r.last[e.Board]) < 200*time.Millisecond {
				return
			}
			r.last[e.Board] = now
			r.out.mu.Lock()
			fmt.Fprintf(r.out.stderr, "\r%s  writing %s %3d%% ", prefix, r.out.bar.ViewAs(float64(e.Done)/float64(e.Total)), e.Done*100/e.Total)
			r.out.inBar = true
			r.out.mu.Unlock()
			return
		}
		r.out.say("%s      %s", prefix, e.Message)
	case provision.KindEvidence:
		if e.Severity == "warning" || e.Severity == "error" || e.Severity == "notice" {
			r.out.say("%s      | %s", prefix, e.Message)
		}
	case provision.KindDone, provision.KindSkipped, provision.KindVerified:
		r.out.say("%s%s %-8s %s", prefix, stepMarks[e.Kind], e.Step, e.Message)
	case provision.KindFailed:
		r.out.say("%s%s %-8s failed", prefix, stepMarks[e.Kind], e.Step)
		if e.Finding != nil {
			r.finding(prefix, e.Finding)
		} else {
			r.out.say("%s      %s", prefix, e.Message)
		}
	}
}

func (r *provisionRenderer) finding(prefix string, f *doctor.Finding) {
	r.out.say("%s      problem: %s", prefix, f.Summary)
	r.out.say("%s      fix:     %s", prefix, f.Fix)
	for i, ev := range f.Evidence {
		if i == 4 {
			r.out.say("%s      (%d more lines of evidence)", prefix, len(f.Evidence)-i)
			break
		}
		r.out.say("%s      %-7s %s", prefix, ev.Source+":", ev.Text)
	}
}

// summary prints the per-board table.
func (r *provisionRenderer) summary(results []*provision.Result) {
	if r.out.json {
		return
	}
	if len(results) == 1 {
		res := results[0]
		if res.Verified {
			extra := ""
			if res.NoChange {
				extra = " (nothing needed changing)"
			}
			r.out.say("Verified: %s published on %s in %.1f s%s.", res.Thing, res.Topic, res.Elapsed.Seconds(), extra)
		}
		return
	}
	r.out.say("")
	r.out.say("%-28s %-9s %-17s %-22s %-9s %s", "BOARD", "CHIP", "MAC", "THING", "RESULT", "TIME")
	for _, res := range results {
		verdict := "verified"
		if !res.Verified {
			verdict = "FAILED"
			if res.Report != nil && res.Report.Top() != nil {
				verdict = "FAILED: " + res.Report.Top().Code
			}
		}
		r.out.say("%-28s %-9s %-17s %-22s %-9s %.1fs", res.Board, res.Chip, res.MAC, res.Thing, verdict, res.Elapsed.Seconds())
	}
}

// brokerRunning says whether something accepts connections at addr (a
// `cloud serve` in another process).
func brokerRunning(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}
