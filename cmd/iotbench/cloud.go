package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/spf13/cobra"

	"github.com/iotbench/iotbench/awsops"
	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/internal/xdg"
	"github.com/iotbench/iotbench/localcloud"
	"github.com/iotbench/iotbench/mqttview"
	"github.com/iotbench/iotbench/mqttview/topic"
)

// cloudCommand is the local cloud: serve it, and manage its things.
func (a *app) cloudCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "cloud",
		Short: "The built-in local cloud: an MQTT broker with certificates and AWS IoT policies",
		Long: `The local cloud is AWS IoT Core without an AWS account: a broker on mutual
TLS (port 8883) that admits boards by certificate, checks every connect,
publish, subscribe and delivery against the same IoT policy language as AWS,
and stores telemetry (iotbench/<thing>/telemetry) like the DynamoDB rule.
Its CA, registry and data live in the XDG data directory.

  iotbench cloud serve                  run it (Ctrl-C stops it)
  iotbench cloud provision bench-01     issue a board identity (cert, key, CA)
  iotbench mqtt sub --cloud local       watch what boards publish`,
	}
	cmd.PersistentFlags().StringVar(&dir, "cloud-dir", "", "local cloud data directory (default $XDG_DATA_HOME/iotbench/localcloud)")
	open := func() (*localcloud.Cloud, error) { return a.openLocalCloud(dir) }
	cmd.AddCommand(a.cloudServeCommand(open), a.cloudProvisionCommand(open), a.cloudStatusCommand(open), a.cloudDeprovisionCommand(open))
	return cmd
}

func (a *app) openLocalCloud(dir string) (*localcloud.Cloud, error) {
	if dir == "" {
		d, err := localcloud.DefaultDir(a.getenv)
		if err != nil {
			return nil, &flasher.InputError{Msg: err.Error()}
		}
		dir = d
	}
	return localcloud.Open(dir)
}

func (a *app) cloudServeCommand(open func() (*localcloud.Cloud, error)) *cobra.Command {
	var addr, advertise string
	var duration time.Duration
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the local cloud in the foreground",
		Long: `Run the local cloud's broker in the foreground. It listens on 0.0.0.0:8883 so
boards on the LAN can reach it, prints the endpoint boards use and the CA
file, and logs every connection decision with its reason (a refused
certificate, a policy denial). Ctrl-C stops it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := open()
			if err != nil {
				return err
			}
			defer c.Close()
			var mu sync.Mutex
			b, err := c.Serve(localcloud.ServeOptions{
				Addr: addr, Advertise: advertise,
				OnEvent: func(e localcloud.Event) {
					mu.Lock()
					defer mu.Unlock()
					a.cloudEvent(e)
				},
			})
			if err != nil {
				return err
			}
			defer b.Close()
			host, port := b.Endpoint()
			a.out.say("Local cloud listening on %s (mutual TLS)", b.Addr())
			a.out.say("Endpoint for boards: %s:%d", host, port)
			a.out.say("CA certificate: %s", c.CA().CertPath)
			a.out.say("Data: %s", c.Dir())
			if a.jsonOut {
				a.out.jsonLine("listening", map[string]any{"address": b.Addr().String(), "endpoint": host, "port": port, "ca": c.CA().CertPath, "dir": c.Dir()})
			}
			ctx := cmd.Context()
			if duration > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, duration)
				defer cancel()
			}
			<-ctx.Done()
			a.out.say("Stopping.")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "0.0.0.0:8883", "address to listen on")
	f.StringVar(&advertise, "advertise", "", "host name or address boards are told to connect to (default: this host's LAN address)")
	f.DurationVar(&duration, "duration", 0, "stop after this long (for scripts; 0 = until Ctrl-C)")
	return cmd
}

func (a *app) cloudEvent(e localcloud.Event) {
	if a.jsonOut {
		a.out.jsonLine("cloud", e)
		return
	}
	who := e.ClientID
	if e.Thing != "" && e.Thing != e.ClientID {
		who += " (thing " + e.Thing + ")"
	}
	if who == "" {
		who = e.Remote
	}
	ts := e.Time.Format("15:04:05")
	switch e.Kind {
	case "connected":
		a.out.say("%s %s connected from %s", ts, who, e.Remote)
	case "disconnected":
		a.out.say("%s %s disconnected: %s", ts, who, e.Reason)
	case "refused", "denied":
		a.out.say("%s %s %s: %s", ts, who, e.Kind, e.Reason)
	case "tls-refused":
		a.out.say("%s TLS handshake from %s refused: %s", ts, e.Remote, e.Reason)
	default:
		a.out.say("%s %s %s: %s", ts, who, e.Kind, e.Reason)
	}
}

func (a *app) cloudProvisionCommand(open func() (*localcloud.Cloud, error)) *cobra.Command {
	var csrPath, keyType, out string
	var replace bool
	cmd := &cobra.Command{
		Use:   "provision THING",
		Short: "Issue a board identity from the local CA (certificate, key, CA, endpoint)",
		Long: `Create THING in the local cloud and issue its certificate with the device
policy attached (connect as THING, publish iotbench/THING/telemetry and
/status, receive iotbench/THING/cmd). The files a board reads are written to
--out: cert.der, private.der (0600), ca.der, and their PEM twins. With --csr
the key stays yours and no private key is written. Provisioning again
returns the same identity (the local cloud keeps generated keys, 0600);
--replace issues a new certificate and retires the old one.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := localcloud.ProvisionRequest{Thing: args[0], KeyType: keyType, Replace: replace}
			if csrPath != "" {
				b, err := readInputFile(csrPath)
				if err != nil {
					return err
				}
				req.CSR = b
			}
			c, err := open()
			if err != nil {
				return err
			}
			defer c.Close()
			id, err := c.Provision(cmd.Context(), req)
			if err != nil {
				return cloudInputError(err)
			}
			if out == "" {
				out = args[0]
			}
			files, err := writeIdentity(out, id)
			if err != nil {
				return err
			}
			verb := "Provisioned"
			if id.Reused {
				verb = "Reused the identity of"
			}
			a.out.say("%s %s in the local cloud (certificate %s…)", verb, id.Thing, id.CertificateID[:12])
			a.out.say("Endpoint %s:%d, client ID %s, telemetry on %s", id.Endpoint, id.Port, id.ClientID, id.TelemetryTopic)
			a.out.say("Wrote %s", strings.Join(files, ", "))
			return a.out.result(map[string]any{"identity": id, "files": files})
		},
	}
	f := cmd.Flags()
	f.StringVar(&csrPath, "csr", "", "sign this certificate signing request (PEM) instead of generating a key")
	f.StringVar(&keyType, "key-type", "ec", "key to generate: ec (P-256, fast on an ESP8266) or rsa (2048, what AWS generates)")
	f.StringVarP(&out, "out", "o", "", "folder for the files (default: ./THING)")
	f.BoolVar(&replace, "replace", false, "issue a new certificate even if the thing has one (the old one stops working)")
	return cmd
}

// writeIdentity writes what a board reads (DER) and PEM twins for people
// and other tools; the private key is 0600.
func writeIdentity(dir string, id *localcloud.Identity) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, &flasher.InputError{Msg: err.Error()}
	}
	type file struct {
		name string
		pem  []byte
		mode os.FileMode
	}
	fs := []file{{"cert", id.CertificatePEM, 0o644}, {"ca", id.CAPEM, 0o644}}
	if id.PrivateKeyPEM != nil {
		fs = append(fs, file{"private", id.PrivateKeyPEM, 0o600})
	}
	var names []string
	for _, f := range fs {
		der, err := localcloud.PEMToDER(f.pem)
		if err != nil {
			return nil, err
		}
		for _, w := range []struct {
			ext  string
			data []byte
		}{{".der", der}, {".pem", f.pem}} {
			p := filepath.Join(dir, f.name+w.ext)
			if err := xdg.WriteFileAtomic(p, w.data, f.mode); err != nil {
				return nil, &flasher.InputError{Msg: fmt.Sprintf("writing %s: %v", p, err)}
			}
			names = append(names, p)
		}
	}
	return names, nil
}

func cloudInputError(err error) error {
	var ie *localcloud.InputError
	var nf *localcloud.NotFoundError
	if errors.As(err, &ie) || errors.As(err, &nf) {
		return &flasher.InputError{Msg: err.Error()}
	}
	return err
}

func (a *app) cloudStatusCommand(open func() (*localcloud.Cloud, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "status [THING]",
		Short: "Show the local cloud's things, or one thing's certificates and last telemetry",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := open()
			if err != nil {
				return err
			}
			defer c.Close()
			if len(args) == 0 {
				things, err := c.Things()
				if err != nil {
					return err
				}
				host, port := c.Endpoint()
				a.out.say("Local cloud in %s, endpoint %s:%d, CA %s", c.Dir(), host, port, c.CA().CertPath)
				for _, t := range things {
					a.out.say("  %s", t)
				}
				if len(things) == 0 {
					a.out.say("No things yet: iotbench cloud provision NAME")
				}
				return a.out.result(map[string]any{"dir": c.Dir(), "endpoint": host, "port": port, "ca": c.CA().CertPath, "things": things})
			}
			st, err := c.Status(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if !st.Exists {
				return &flasher.InputError{Msg: fmt.Sprintf("thing %q is not provisioned in the local cloud (iotbench cloud provision %s)", args[0], args[0])}
			}
			a.out.say("%s: created %s", st.Thing, st.Created.Format(time.RFC3339))
			for _, cs := range st.Certificates {
				a.out.say("  certificate %s… %s, policies %s", cs.ID[:12], cs.Status, strings.Join(cs.Policies, ", "))
			}
			if st.LastTelemetry.IsZero() {
				a.out.say("  no telemetry stored yet")
			} else {
				a.out.say("  last telemetry %s", st.LastTelemetry.Format(time.RFC3339))
			}
			return a.out.result(st)
		},
	}
}

func (a *app) cloudDeprovisionCommand(open func() (*localcloud.Cloud, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "deprovision THING",
		Short: "Delete a thing and its certificates (a running broker disconnects it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := open()
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.Deprovision(cmd.Context(), args[0]); err != nil {
				return cloudInputError(err)
			}
			a.out.say("Deprovisioned %s.", args[0])
			return a.out.result(map[string]any{"thing": args[0], "deprovisioned": true})
		},
	}
}

// mqttFlags are the connection flags of every mqtt subcommand.
type mqttFlags struct {
	cloud, cloudDir           string
	clientID, user, password  string
	caFile, certFile, keyFile string
	endpoint, region          string
	awsPort                   int
	websocket                 bool
	things                    []string
	lifecycle                 bool
	wait                      time.Duration
}

func (a *app) mqttCommand() *cobra.Command {
	f := &mqttFlags{}
	cmd := &cobra.Command{
		Use:   "mqtt",
		Short: "Watch and publish MQTT topics on AWS IoT, the local cloud or any broker",
		Long: `Watch topics live, publish, clear retained messages and export history.

--cloud says where:
  local   the built-in local cloud (iotbench cloud serve), with its viewer
          certificate (the default)
  aws     AWS IoT Core: --endpoint (the iot:Data-ATS address) and either
          --cert/--key (mutual TLS on 8883, or 443 with ALPN: --aws-port 443)
          or your AWS credentials (--websocket, SigV4; region from --region,
          the SDK config, or the endpoint)
  URL     any broker: mqtt://, mqtts://, ws://, wss:// (user:pass@ or
          --username/--password; --ca/--cert/--key for TLS)

On AWS the viewer never subscribes to # or $SYS/# (AWS disconnects for it);
without filters it subscribes to each known thing's topics (--thing, else
the things iotbench aws provisioned, from its ledger; the endpoint too
comes from there when there is only one).

Examples:
  iotbench mqtt sub
  iotbench mqtt sub --cloud aws --endpoint abc-ats.iot.eu-west-1.amazonaws.com --websocket --lifecycle
  iotbench mqtt pub iotbench/bench-01/cmd '{"led":true}'
  iotbench mqtt clear-retained iotbench/bench-01/status
  iotbench mqtt export --since 1h > telemetry.jsonl`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.cloud, "cloud", envOr(a.getenv, "IOTBENCH_CLOUD", "local"), "aws, local, or a broker URL ($IOTBENCH_CLOUD)")
	pf.StringVar(&f.cloudDir, "cloud-dir", "", "local cloud data directory (default $XDG_DATA_HOME/iotbench/localcloud)")
	pf.StringVar(&f.clientID, "client-id", "", "MQTT client ID (default iotbench-viewer-<random>)")
	pf.StringVar(&f.user, "username", "", "MQTT user name (URL brokers)")
	pf.StringVar(&f.password, "password", "", "MQTT password (URL brokers)")
	pf.StringVar(&f.caFile, "ca", "", "CA certificate(s) to trust, PEM (default: the system's, which hold Amazon Root CA 1 and 3)")
	pf.StringVar(&f.certFile, "cert", "", "client certificate, PEM")
	pf.StringVar(&f.keyFile, "key", "", "client private key, PEM")
	pf.StringVar(&f.endpoint, "endpoint", a.getenv("IOTBENCH_AWS_ENDPOINT"), "AWS IoT data endpoint (<prefix>-ats.iot.<region>.amazonaws.com; $IOTBENCH_AWS_ENDPOINT)")
	pf.StringVar(&f.region, "region", "", "AWS region for SigV4 (default: from the endpoint or the SDK config)")
	pf.IntVar(&f.awsPort, "aws-port", 8883, "AWS IoT port for certificates: 8883, or 443 (ALPN x-amzn-mqtt-ca)")
	pf.BoolVar(&f.websocket, "websocket", false, "AWS: MQTT over WebSocket signed with your AWS credentials (SigV4) instead of a certificate")
	pf.StringSliceVar(&f.things, "thing", nil, "things whose topics to watch when no filter is given (repeatable)")
	pf.BoolVar(&f.lifecycle, "lifecycle", false, "also watch connect/disconnect events ($aws/events/presence/...)")
	pf.DurationVar(&f.wait, "wait", 0, "keep trying the first connection this long while nothing listens yet (scripts that start the broker in the background)")
	cmd.AddCommand(a.mqttSubCommand(f), a.mqttPubCommand(f), a.mqttClearRetainedCommand(f), a.mqttExportCommand(f))
	return cmd
}

// checkFilters refuses bad filters before connecting, and on AWS the
// ones AWS punishes.
func (f *mqttFlags) checkFilters(filters []string) error {
	for _, fl := range filters {
		var err error
		if f.cloud == "aws" || strings.Contains(f.cloud, ".amazonaws.com") {
			err = topic.CheckAWSSubscribe(fl)
		} else {
			err = topic.ValidFilter(fl)
		}
		if err != nil {
			return &flasher.InputError{Msg: err.Error()}
		}
	}
	return nil
}

func envOr(getenv func(string) string, k, def string) string {
	if v := getenv(k); v != "" {
		return v
	}
	return def
}

// mqttTarget is a configured viewer plus what the cloud knows.
type mqttTarget struct {
	cfg      mqttview.Config
	kind     string // aws, local, url
	things   []string
	local    *localcloud.Cloud
	describe string
}

func (t *mqttTarget) close() {
	if t.local != nil {
		t.local.Close()
	}
}

func (a *app) mqttTarget(ctx context.Context, f *mqttFlags) (*mqttTarget, error) {
	t := &mqttTarget{things: f.things}
	t.cfg.ClientID = f.clientID
	tc, err := f.tlsFiles()
	if err != nil {
		return nil, err
	}
	switch f.cloud {
	case "local":
		t.kind = "local"
		c, err := a.openLocalCloud(f.cloudDir)
		if err != nil {
			return nil, err
		}
		t.local = c
		addr, err := c.LocalAddress()
		if err != nil {
			c.Close()
			return nil, &mqttview.ConnectError{Broker: "the local cloud", Stage: "dial", Err: err}
		}
		vt, err := c.ViewerTLS(ctx)
		if err != nil {
			c.Close()
			return nil, err
		}
		if tc != nil && len(tc.Certificates) > 0 {
			// Act as a device (--cert/--key of a provisioned thing).
			vt.Certificates = tc.Certificates
		}
		t.cfg.Broker, t.cfg.TLS, t.cfg.AWSLimits = "mqtts://"+addr, vt, true
		if len(t.things) == 0 {
			t.things, _ = c.Things()
		}
		t.describe = "the local cloud at " + addr
	case "aws":
		t.kind = "aws"
		ledgerThings, endpoints := awsLedgerThings(f.endpoint)
		if len(t.things) == 0 {
			t.things = ledgerThings
		}
		if f.endpoint == "" && len(endpoints) == 1 {
			f.endpoint = endpoints[0]
		}
		if f.endpoint == "" {
			return nil, usagef("--cloud aws needs --endpoint (the iot:Data-ATS address: aws iot describe-endpoint --endpoint-type iot:Data-ATS)")
		}
		var roots *x509.CertPool
		if tc != nil {
			roots = tc.RootCAs
		}
		if f.websocket {
			if f.certFile != "" {
				return nil, usagef("--websocket signs with AWS credentials: drop --cert/--key, or drop --websocket")
			}
			region := f.region
			if region == "" {
				region = regionFromEndpoint(f.endpoint)
			}
			var opts []func(*config.LoadOptions) error
			if region != "" {
				opts = append(opts, config.WithRegion(region))
			}
			ac, err := config.LoadDefaultConfig(ctx, opts...)
			if err != nil {
				return nil, fmt.Errorf("AWS configuration: %w", err)
			}
			if ac.Region == "" {
				return nil, usagef("no AWS region: give --region")
			}
			t.cfg = mqttview.AWSWebSocket(f.endpoint, ac.Region, ac.Credentials, roots)
			t.cfg.ClientID = f.clientID
			t.describe = "AWS IoT " + f.endpoint + " over WebSocket (SigV4)"
		} else {
			if tc == nil || len(tc.Certificates) == 0 {
				return nil, usagef("--cloud aws needs --cert and --key (a certificate whose policy allows iot:Connect, iot:Subscribe and iot:Receive), or --websocket to sign with your AWS credentials")
			}
			broker, atc, err := mqttview.AWSCertificate(f.endpoint, f.awsPort, tc.Certificates[0], roots)
			if err != nil {
				return nil, usagef("%v", err)
			}
			t.cfg.Broker, t.cfg.TLS, t.cfg.AWS = broker, atc, true
			t.describe = fmt.Sprintf("AWS IoT %s:%d", f.endpoint, f.awsPort)
		}
	default:
		t.kind = "url"
		u, err := url.Parse(f.cloud)
		if err != nil || u.Scheme == "" {
			return nil, usagef("--cloud %q: use aws, local, or a URL such as mqtts://host:8883", f.cloud)
		}
		if u.User != nil {
			t.cfg.Username = u.User.Username()
			t.cfg.Password, _ = u.User.Password()
			u.User = nil
		}
		if f.user != "" {
			t.cfg.Username, t.cfg.Password = f.user, f.password
		}
		t.cfg.Broker, t.cfg.TLS = u.String(), tc
		t.describe = u.String()
		if strings.HasSuffix(u.Hostname(), ".amazonaws.com") {
			t.cfg.AWS = true
		}
	}
	return t, nil
}

// awsLedgerThings lists the things awsops provisioned (its ledger), those
// on endpoint when it is known, and the endpoints seen.
func awsLedgerThings(endpoint string) (things, endpoints []string) {
	dir, err := awsops.DefaultLedgerDir()
	if err != nil {
		return nil, nil
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*", "*", "*", "record.json"))
	seenT, seenE := map[string]bool{}, map[string]bool{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		r, err := awsops.ParseRecord(b)
		if err != nil || r.Thing == "" {
			continue
		}
		if r.Endpoint != "" && !seenE[r.Endpoint] {
			seenE[r.Endpoint] = true
			endpoints = append(endpoints, r.Endpoint)
		}
		if endpoint != "" && r.Endpoint != "" && r.Endpoint != endpoint {
			continue
		}
		if !seenT[r.Thing] {
			seenT[r.Thing] = true
			things = append(things, r.Thing)
		}
	}
	sort.Strings(things)
	sort.Strings(endpoints)
	return things, endpoints
}

// regionFromEndpoint reads eu-west-1 out of xxx-ats.iot.eu-west-1.amazonaws.com.
func regionFromEndpoint(ep string) string {
	parts := strings.Split(ep, ".")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "iot" && i+2 < len(parts) && parts[i+2] == "amazonaws" {
			return parts[i+1]
		}
	}
	return ""
}

func (f *mqttFlags) tlsFiles() (*tls.Config, error) {
	if f.caFile == "" && f.certFile == "" && f.keyFile == "" {
		return nil, nil
	}
	tc := &tls.Config{}
	if f.caFile != "" {
		b, err := readInputFile(f.caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, &flasher.InputError{Msg: fmt.Sprintf("%s holds no PEM certificate", f.caFile)}
		}
		tc.RootCAs = pool
	}
	if (f.certFile == "") != (f.keyFile == "") {
		return nil, usagef("--cert and --key go together")
	}
	if f.certFile != "" {
		cert, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				return nil, err
			}
			// The error names the files but never their content.
			return nil, &flasher.InputError{Msg: fmt.Sprintf("%s / %s: %v", f.certFile, f.keyFile, err)}
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// defaultFilters: one per thing, else everything under iotbench/; never
// '#' on AWS.
func (t *mqttTarget) defaultFilters(lifecycle bool) []string {
	perThing := func(thing string) string { return firmware.TopicRoot + "/" + thing + "/#" }
	return mqttview.DefaultFilters(t.things, perThing, firmware.TopicRoot+"/#", lifecycle)
}

// mqttOpen configures the target and makes the first connection, trying
// again for --wait while nothing listens.
func (a *app) mqttOpen(ctx context.Context, f *mqttFlags, onMsg func(mqttview.Message), history int) (*mqttTarget, *mqttview.Viewer, error) {
	deadline := time.Now().Add(f.wait)
	for {
		t, err := a.mqttTarget(ctx, f)
		if err == nil {
			var v *mqttview.Viewer
			v, err = a.mqttConnect(ctx, t, onMsg, history)
			if err == nil {
				return t, v, nil
			}
			t.close()
		}
		var ce *mqttview.ConnectError
		if !errors.As(err, &ce) || ce.Stage != "dial" || time.Now().After(deadline) || ctx.Err() != nil {
			return nil, nil, err
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// mqttConnect makes the viewer and its first connection, reporting states.
func (a *app) mqttConnect(ctx context.Context, t *mqttTarget, onMsg func(mqttview.Message), history int) (*mqttview.Viewer, error) {
	cfg := t.cfg
	cfg.OnMessage = onMsg
	cfg.Limits = mqttview.Limits{History: history}
	var first atomic.Bool
	first.Store(true)
	cfg.OnState = func(s mqttview.State) {
		if a.jsonOut {
			a.out.jsonLine("state", s)
			return
		}
		if first.Load() || s.Status == mqttview.StatusClosed {
			return // the first connection's outcome is the command's to tell
		}
		fmt.Fprintf(a.stderr, "%s %s\n", time.Now().Format("15:04:05"), s)
	}
	v, err := mqttview.New(cfg)
	if err != nil {
		return nil, usagef("%v", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	err = v.Connect(cctx)
	first.Store(false)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return v, nil
}

func mqttInput(err error) error {
	var ie *mqttview.InputError
	if errors.As(err, &ie) {
		return &flasher.InputError{Msg: ie.Msg}
	}
	return err
}

func (a *app) mqttSubCommand(f *mqttFlags) *cobra.Command {
	var count, history, maxShow int
	var duration time.Duration
	var pretty bool
	cmd := &cobra.Command{
		Use:   "sub [FILTER...]",
		Short: "Watch topics live (Ctrl-C stops)",
		Long: `Subscribe and print every message: time, topic, [retained], payload (JSON
compacted, or pretty with --pretty; text as is; binary as hex). Without
filters: each known thing's topics (iotbench/<thing>/#), or iotbench/#.
The connection is kept up: drops are shown with their reason, and the
viewer reconnects with backoff and subscribes again.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := f.checkFilters(args); err != nil {
				return err
			}
			if duration > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, duration)
				defer cancel()
			}
			ctx, stop := context.WithCancel(ctx)
			defer stop()
			var mu sync.Mutex
			n := 0
			onMsg := func(m mqttview.Message) {
				mu.Lock()
				defer mu.Unlock()
				if count > 0 && n >= count {
					return
				}
				n++
				a.printMessage(m, pretty, maxShow)
				if count > 0 && n >= count {
					stop()
				}
			}
			t, v, err := a.mqttOpen(ctx, f, onMsg, history)
			if err != nil {
				return err
			}
			defer t.close()
			defer v.Close()
			filters := args
			if len(filters) == 0 {
				filters = t.defaultFilters(f.lifecycle)
			} else if f.lifecycle {
				filters = append(filters, mqttview.LifecycleFilters...)
			}
			a.out.say("Connected to %s as %s; watching %s", t.describe, v.ClientID(), strings.Join(filters, " "))
			if err := v.Subscribe(ctx, filters...); err != nil {
				// Retained messages arrive while the subscription is being
				// made: -n can be reached, and ctx cancelled, before
				// Subscribe returns. That is success, not an interrupt.
				mu.Lock()
				reached := count > 0 && n >= count
				mu.Unlock()
				if !reached {
					return mqttInput(err)
				}
			}
			<-ctx.Done()
			v.Close()
			tot := v.Store().Totals()
			if !a.jsonOut {
				fmt.Fprintf(a.stderr, "%d messages on %d topics\n", tot.Messages, tot.Topics)
			}
			return a.out.result(map[string]any{"messages": tot.Messages, "topics": tot.Topics, "filters": filters})
		},
	}
	fl := cmd.Flags()
	fl.IntVarP(&count, "count", "n", 0, "stop after this many messages")
	fl.DurationVar(&duration, "duration", 0, "stop after this long (0 = until Ctrl-C)")
	fl.BoolVar(&pretty, "pretty", false, "pretty-print JSON payloads over several lines")
	fl.IntVar(&maxShow, "max", 2048, "show at most this many bytes of a payload (0 = all)")
	fl.IntVar(&history, "history", 100, "messages kept per topic")
	return cmd
}

func (a *app) printMessage(m mqttview.Message, pretty bool, maxShow int) {
	if a.jsonOut {
		b, err := mqttview.MarshalExport(m)
		if err != nil {
			return
		}
		var fields map[string]any
		json.Unmarshal(b, &fields)
		fields["kind"] = mqttview.Classify(m.Payload)
		a.out.jsonLine("message", fields)
		return
	}
	ret := ""
	if m.Retained {
		ret = " [retained]"
	}
	p := mqttview.FormatPayload(m.Payload, !pretty, maxShow)
	if pretty && strings.Contains(p, "\n") {
		a.out.say("%s %s%s\n%s", m.Time.Format("15:04:05.000"), m.Topic, ret, p)
		return
	}
	a.out.say("%s %s%s %s", m.Time.Format("15:04:05.000"), m.Topic, ret, p)
}

func (a *app) mqttPubCommand(f *mqttFlags) *cobra.Command {
	var qos int
	var retain bool
	cmd := &cobra.Command{
		Use:   "pub TOPIC PAYLOAD",
		Short: "Publish one message (PAYLOAD - reads stdin, @FILE reads a file)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if qos < 0 || qos > 2 {
				return usagef("--qos %d: use 0, 1 or 2", qos)
			}
			payload, err := a.payloadArg(args[1])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			t, v, err := a.mqttOpen(ctx, f, nil, 1)
			if err != nil {
				return err
			}
			defer t.close()
			defer v.Close()
			if err := v.Publish(ctx, args[0], payload, byte(qos), retain); err != nil {
				return mqttInput(err)
			}
			a.out.say("Published %d bytes to %s (QoS %d%s).", len(payload), args[0], qos, map[bool]string{true: ", retained"}[retain])
			return a.out.result(map[string]any{"topic": args[0], "bytes": len(payload), "qos": qos, "retain": retain})
		},
	}
	cmd.Flags().IntVarP(&qos, "qos", "q", 0, "QoS 0, 1 or 2 (AWS IoT: 0 or 1)")
	cmd.Flags().BoolVarP(&retain, "retain", "r", false, "retain the message (AWS IoT: needs iot:RetainPublish)")
	return cmd
}

func (a *app) payloadArg(s string) ([]byte, error) {
	switch {
	case s == "-":
		return io.ReadAll(a.stdin)
	case strings.HasPrefix(s, "@"):
		return readInputFile(s[1:])
	}
	return []byte(s), nil
}

func (a *app) mqttClearRetainedCommand(f *mqttFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "clear-retained TOPIC",
		Short: "Delete a topic's retained message (an empty retained publish)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			t, v, err := a.mqttOpen(ctx, f, nil, 1)
			if err != nil {
				return err
			}
			defer t.close()
			defer v.Close()
			if err := v.ClearRetained(ctx, args[0]); err != nil {
				return mqttInput(err)
			}
			a.out.say("Cleared the retained message of %s.", args[0])
			return a.out.result(map[string]any{"topic": args[0], "cleared": true})
		},
	}
}

func (a *app) mqttExportCommand(f *mqttFlags) *cobra.Command {
	var since, outPath, thing string
	var duration time.Duration
	cmd := &cobra.Command{
		Use:   "export [FILTER...] --since DURATION|TIME",
		Short: "Write message history as JSON lines",
		Long: `Write messages as JSON lines ({"time","topic","qos","retained","payload"} or
"payload_base64" for binary payloads), oldest first.

On the local cloud the history is its telemetry store: every thing's (or
--thing's) telemetry since --since. Elsewhere brokers keep no history, so
export watches the filters for --duration and writes what arrived since
--since (retained messages included).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if since == "" {
				return usagef("mqtt export needs --since (1h, 30m, or an RFC 3339 time)")
			}
			from, err := parseSince(since, time.Now())
			if err != nil {
				return err
			}
			w := a.stdout
			if outPath != "" {
				fh, err := os.Create(outPath)
				if err != nil {
					return &flasher.InputError{Msg: err.Error()}
				}
				defer fh.Close()
				w = fh
			}
			ctx := cmd.Context()
			if f.cloud == "local" && duration == 0 {
				return a.exportLocal(f, thing, args, from, w)
			}
			if duration == 0 {
				return usagef("this broker keeps no history: give --duration to watch and export what arrives")
			}
			wctx, cancel := context.WithTimeout(ctx, duration)
			defer cancel()
			t, v, err := a.mqttOpen(wctx, f, nil, 10000)
			if err != nil {
				return err
			}
			defer t.close()
			defer v.Close()
			filters := args
			if len(filters) == 0 {
				filters = t.defaultFilters(f.lifecycle)
			}
			if err := v.Subscribe(wctx, filters...); err != nil {
				return mqttInput(err)
			}
			<-wctx.Done()
			v.Close()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return v.Store().Export(w, from)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&since, "since", "", "start of the history: a duration back from now (1h, 30m) or an RFC 3339 time")
	fl.StringVarP(&outPath, "output", "o", "", "write to this file instead of stdout")
	fl.StringVar(&thing, "thing", "", "local cloud: only this thing's telemetry")
	fl.DurationVar(&duration, "duration", 0, "watch this long and export what arrived (brokers other than the local cloud)")
	return cmd
}

func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("--since %q: give a duration (1h, 30m) or an RFC 3339 time (2026-11-25T10:00:00Z)", s)
}

func (a *app) exportLocal(f *mqttFlags, thing string, filters []string, from time.Time, w io.Writer) error {
	c, err := a.openLocalCloud(f.cloudDir)
	if err != nil {
		return err
	}
	defer c.Close()
	things := []string{thing}
	if thing == "" {
		if things, err = c.Things(); err != nil {
			return err
		}
	}
	var msgs []mqttview.Message
	for _, th := range things {
		recs, err := c.Telemetry().Query(th, from, time.Now().Add(time.Minute), 0, false)
		if err != nil {
			return cloudInputError(err)
		}
		for _, r := range recs {
			if len(filters) > 0 && !matchAny(filters, r.Topic) {
				continue
			}
			msgs = append(msgs, mqttview.Message{Topic: r.Topic, Payload: r.Payload, Time: r.Time().UTC()})
		}
	}
	sortMessages(msgs)
	return mqttview.WriteExport(w, msgs)
}

func matchAny(filters []string, name string) bool {
	for _, f := range filters {
		if topic.Match(f, name) {
			return true
		}
	}
	return false
}

func sortMessages(ms []mqttview.Message) {
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Time.Before(ms[j].Time) })
}
