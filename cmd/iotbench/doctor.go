package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/iotbench/iotbench/doctor"
	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/provision"
)

func (a *app) doctorCommand() *cobra.Command {
	var logFile, thing, cloud, cloudDir, profile, region string
	var duration time.Duration
	cmd := &cobra.Command{
		Use:   "doctor [PORT]",
		Short: "Say why a board does not publish, and what to do about it",
		Long: `Diagnose a board from three sources joined on one timeline: what it prints
(ROM banner, crashes, Wi-Fi, NTP, TLS and MQTT results), what the cloud says
(certificate status and attachment, what the policy allows for its client id
and topic, the endpoint), and what the bench can check itself (the board's
files, a TLS handshake to the endpoint with them). The findings come ranked
in the order a board starts up — an early failure explains the later ones —
each with its evidence and a concrete fix.

  iotbench doctor                       examine the attached board: reset it,
                                        follow its log, watch its topic
  iotbench doctor rfc2217://pi:4000     a board on another host
  iotbench doctor --log board.log       a log saved with iotbench monitor --log
  iotbench doctor --log board.log --thing esp8266-a1b2c3
                                        ... plus the cloud's view of that thing
  iotbench doctor --thing esp8266-a1b2c3
                                        a provisioned thing without its board:
                                        what the cloud and the ledger say

Examining a board creates and writes nothing; the ledger (from iotbench
provision) says which thing it should be. Exit code 0 when nothing is
wrong, 8 when there is a finding to act on.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var cl provision.Cloud
			// A saved log alone needs no cloud; a thing or a live board does.
			if cloud != "none" && (logFile == "" || thing != "") {
				c, stop, err := a.doctorCloud(ctx, cloud, cloudDir, profile, region)
				if err != nil {
					return err
				}
				defer stop()
				cl = c
			}
			if logFile != "" {
				if len(args) > 0 {
					return usagef("--log diagnoses a saved log; leave out the PORT")
				}
				return a.doctorLog(ctx, logFile, thing, cl)
			}
			if thing != "" && len(args) == 0 && a.port == "" {
				return a.doctorThing(ctx, thing, cl)
			}
			ts, err := a.targets(args, false)
			if err != nil {
				return err
			}
			o := provision.Options{Cloud: cl, BootTimeout: duration, ConnectAttempts: a.connectAttempts, NoStub: a.noStub, StubFile: a.stubFile}
			led, err := provision.OpenLedger("")
			if err != nil {
				return err
			}
			o.Ledger = led
			r := newProvisionRenderer(a.out, a.stdout, false)
			res := provision.Examine(ctx, ts[0], o, r.event)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if res.Report == nil {
				if res.Error != "" {
					return fmt.Errorf("%s", res.Error)
				}
				return fmt.Errorf("no diagnosis")
			}
			return a.printReport(res.Report, res.Verified)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&logFile, "log", "", "diagnose this saved log instead of a live board")
	fl.StringVar(&thing, "thing", "", "with --log: also ask the cloud about this thing")
	fl.StringVar(&cloud, "cloud", "local", "the cloud to ask: local, aws, or none")
	fl.StringVar(&profile, "profile", "", "with --cloud aws: AWS profile")
	fl.StringVar(&region, "region", "", "with --cloud aws: AWS region")
	fl.StringVar(&cloudDir, "cloud-dir", "", "local cloud data directory (default $XDG_DATA_HOME/iotbench/localcloud)")
	fl.DurationVar(&duration, "duration", 60*time.Second, "how long to follow a live board after resetting it")
	return cmd
}

// doctorCloud opens the cloud to ask, without starting anything: the
// doctor reports the world as it is (a local cloud that is not served is
// itself a finding).
func (a *app) doctorCloud(ctx context.Context, kind, dir, profile, region string) (provision.Cloud, func(), error) {
	switch kind {
	case "aws":
		c, done, err := a.awsClient(ctx, &awsFlags{profile: profile, region: region})
		if err != nil {
			return nil, nil, err
		}
		return provision.NewAWSCloud(c, c.Credentials()), done, nil
	case "local":
		c, err := a.openLocalCloud(dir)
		if err != nil {
			return nil, nil, err
		}
		lc := provision.NewLocalCloud(c, nil)
		if addr, err := c.LocalAddress(); err != nil || !brokerRunning(addr) {
			a.out.say("Note: the local cloud is not being served (iotbench cloud serve): its registry is checked, its topic is not watched.")
			return &registryOnly{LocalCloud: lc}, func() { c.Close() }, nil
		}
		return lc, func() { c.Close() }, nil
	}
	return nil, nil, usagef("--cloud %q: use local, aws or none", kind)
}

// registryOnly is the local cloud when its broker is not running: facts
// from the registry, nothing to watch.
type registryOnly struct{ *provision.LocalCloud }

func (r *registryOnly) Watch(ctx context.Context, topic string) (<-chan provision.Message, error) {
	return nil, fmt.Errorf("the local cloud is not being served: start it with iotbench cloud serve")
}

func (a *app) doctorLog(ctx context.Context, path, thing string, cl provision.Cloud) error {
	f, err := os.Open(path)
	if err != nil {
		return &inputErr{fmt.Sprintf("--log: %v", err)}
	}
	defer f.Close()
	lines, err := doctor.ParseLog(f, 20000)
	if err != nil {
		return &inputErr{fmt.Sprintf("%s: %v", path, err)}
	}
	in := doctor.Input{Lines: lines}
	if thing != "" && cl != nil {
		topic := firmware.TelemetryTopic(thing)
		in.Cloud = cl.Facts(ctx, provision.FactsQuery{Thing: thing, ClientID: thing, Topic: topic, CertificateID: a.activeCert(ctx, cl, thing)})
	}
	rep := doctor.Diagnose(in)
	return a.printReport(&rep, false)
}

// doctorThing diagnoses a ledger entry without the board: the cloud's
// view of the thing (certificate, attachment, policy verdicts, endpoint).
func (a *app) doctorThing(ctx context.Context, thing string, cl provision.Cloud) error {
	if cl == nil {
		return usagef("--thing without a board needs a cloud to ask: --cloud local or aws")
	}
	q := provision.FactsQuery{Thing: thing, ClientID: thing, Topic: firmware.TelemetryTopic(thing)}
	if led, err := provision.OpenLedger(""); err == nil {
		if recs, err := led.All(); err == nil {
			for _, r := range recs {
				if r.Thing == thing {
					q.CertificateID, q.Endpoint = r.CertificateID, r.Endpoint
				}
			}
		}
	}
	if q.CertificateID == "" {
		q.CertificateID = a.activeCert(ctx, cl, thing)
	}
	rep := doctor.Diagnose(doctor.Input{NoSerial: true, Cloud: cl.Facts(ctx, q)})
	return a.printReport(&rep, false)
}

// activeCert finds the thing's current certificate in the local cloud.
func (a *app) activeCert(ctx context.Context, cl provision.Cloud, thing string) string {
	var lc *provision.LocalCloud
	switch c := cl.(type) {
	case *provision.LocalCloud:
		lc = c
	case *registryOnly:
		lc = c.LocalCloud
	default:
		return ""
	}
	st, err := lc.Cloud.Status(ctx, thing)
	if err != nil {
		return ""
	}
	id := ""
	for _, c := range st.Certificates {
		if id == "" || c.Status == "ACTIVE" {
			id = c.ID
		}
	}
	return id
}

// printReport renders the doctor's findings; a problem is exit code 8.
func (a *app) printReport(r *doctor.Report, verified bool) error {
	if a.jsonOut {
		a.out.result(map[string]any{"report": r, "verified": verified})
	} else {
		if len(r.Findings) == 0 {
			a.out.say("No findings: nothing the log, the cloud or the probes show is wrong.")
		}
		for i, f := range r.Findings {
			mark := "•"
			if f.Level == "error" {
				mark = "✗"
			} else if f.Level == "warning" {
				mark = "!"
			}
			if i > 0 && r.Findings[i-1].Level != "info" && r.Findings[i-1].Level != "notice" && (f.Level == "info" || f.Level == "notice") {
				a.out.say("")
				a.out.say("Also seen:")
			}
			a.out.say("%s [%s] %s", mark, f.StepName, f.Summary)
			if f.Fix != "" {
				a.out.say("    fix: %s", f.Fix)
			}
			for j, e := range f.Evidence {
				if j == 5 {
					a.out.say("    (%d more)", len(f.Evidence)-j)
					break
				}
				at := ""
				if !e.At.IsZero() {
					at = e.At.Local().Format("15:04:05.000") + " "
				}
				a.out.say("    %s%-7s %s", at, e.Source+":", e.Text)
			}
		}
	}
	if !r.Healthy {
		return &notVerifiedError{n: 1, of: 1, what: "the doctor found a problem (see above)"}
	}
	return nil
}

// inputErr is a bad input file (exit code 6).
type inputErr struct{ msg string }

func (e *inputErr) Error() string { return e.msg }

func init() {
	exitClassifiers = append(exitClassifiers, func(err error) (int, bool) {
		if _, ok := err.(*inputErr); ok {
			return exitInput, true
		}
		return 0, false
	})
}
