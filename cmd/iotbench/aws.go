package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/spf13/cobra"

	"github.com/iotbench/iotbench/awsops"
	"github.com/iotbench/iotbench/awsops/emulator"
	"github.com/iotbench/iotbench/awsops/policy"
)

// awsFlags are the connection flags every aws subcommand shares.
type awsFlags struct {
	profile, region, endpoint, ledger string
	emulator                          string
	faults                            []string
}

const awsPermissions = `IAM permissions the AWS identity needs:
  iot:  CreateThing DescribeThing DeleteThing CreateKeysAndCertificate
        CreateCertificateFromCsr DescribeCertificate UpdateCertificate
        DeleteCertificate ListCertificates CreatePolicy GetPolicy
        CreatePolicyVersion ListPolicyVersions DeletePolicyVersion DeletePolicy
        AttachPolicy DetachPolicy ListAttachedPolicies ListTargetsForPolicy
        AttachThingPrincipal DetachThingPrincipal ListThingPrincipals
        ListPrincipalThings DescribeEndpoint CreateTopicRule GetTopicRule
        ReplaceTopicRule
  iam:  GetRole CreateRole GetRolePolicy PutRolePolicy PassRole (rule create)
  dynamodb: CreateTable DescribeTable DescribeTimeToLive UpdateTimeToLive
        Query (rule create, history)`

func (a *app) awsCommand() *cobra.Command {
	f := &awsFlags{}
	cmd := &cobra.Command{
		Use:   "aws",
		Short: "Provision boards on AWS IoT Core: thing, key, certificate, policy, endpoint, telemetry rule",
		Long: `Provision boards on AWS IoT Core in one step that can be re-run safely.

Credentials come from the AWS SDK's default chain: AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY, the profiles of ~/.aws/config and ~/.aws/credentials
(--profile), IAM Identity Center (aws sso login), or a container/instance
role. The region comes from --region, AWS_REGION or the profile.

What was provisioned is recorded per thing under
$XDG_DATA_HOME/iotbench/aws (0700; keys 0600): a run that was interrupted
is finished by the next one, without orphan certificates or lost keys.

` + awsPermissions,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.profile, "profile", "", "AWS profile from ~/.aws/config (default: $AWS_PROFILE or the default profile)")
	pf.StringVar(&f.region, "region", "", "AWS region, e.g. eu-west-1 (default: $AWS_REGION or the profile's)")
	pf.StringVar(&f.endpoint, "endpoint-url", "", "send all AWS calls to this URL (an emulator such as moto); also $AWS_ENDPOINT_URL")
	pf.StringVar(&f.ledger, "ledger", "", "ledger folder (default $XDG_DATA_HOME/iotbench/aws)")
	pf.StringVar(&f.emulator, "emulator", "", "serve AWS from the built-in emulator, keeping its state in this file (testing)")
	pf.StringArrayVar(&f.faults, "emulator-fault", nil, "make the emulator fail: access-denied:OP or throttle:OP[:N] (testing)")
	pf.MarkHidden("emulator")
	pf.MarkHidden("emulator-fault")
	cmd.AddCommand(a.awsProvisionCommand(f), a.awsDeprovisionCommand(f), a.awsStatusCommand(f),
		a.awsPolicyCommand(f), a.awsRuleCommand(f), a.awsHistoryCommand(f))
	return cmd
}

// client connects to AWS (or the emulator); done saves the emulator's
// state and stops it.
func (a *app) awsClient(ctx context.Context, f *awsFlags) (c *awsops.Client, done func(), err error) {
	o := awsops.Options{Profile: f.profile, Region: f.region, EndpointURL: f.endpoint, LedgerDir: f.ledger}
	if a.trace {
		o.Trace = func(s string) {
			a.out.finishLine()
			fmt.Fprintln(a.stderr, s)
		}
	}
	done = func() {}
	if f.emulator == "" {
		f.emulator = a.getenv("IOTBENCH_AWS_EMULATOR")
	}
	if f.emulator != "" {
		emu, err := emulator.Open(f.emulator)
		if err != nil {
			return nil, nil, err
		}
		for _, spec := range f.faults {
			ft, err := parseFault(spec)
			if err != nil {
				return nil, nil, err
			}
			emu.Inject(ft)
		}
		url, err := emu.Start()
		if err != nil {
			return nil, nil, err
		}
		done = func() { emu.Close() }
		o.EndpointURL = url
		o.Credentials = credentials.NewStaticCredentialsProvider(emulator.AccessKeyID, emulator.SecretAccessKey, "")
		o.DisableIMDS = true
		o.MaxBackoff = 50 * time.Millisecond
		if o.Region == "" && a.getenv("AWS_REGION") == "" {
			o.Region = "eu-west-1"
		}
	}
	c, err = awsops.New(ctx, o)
	if err != nil {
		done()
		return nil, nil, err
	}
	return c, done, nil
}

func parseFault(spec string) (emulator.Fault, error) {
	parts := strings.Split(spec, ":")
	switch {
	case len(parts) == 3 && parts[0] == "access-denied":
		return emulator.AccessDenied(parts[1] + ":" + parts[2]), nil
	case (len(parts) == 3 || len(parts) == 4) && parts[0] == "throttle":
		n := 0
		if len(parts) == 4 {
			n, _ = strconv.Atoi(parts[3])
		}
		return emulator.Throttle(parts[1]+":"+parts[2], n), nil
	}
	return emulator.Fault{}, usagef("--emulator-fault %q: use access-denied:SERVICE:OP or throttle:SERVICE:OP[:N]", spec)
}

// event renders one provisioning step.
func (a *app) awsEvent(e awsops.Event) {
	if a.jsonOut {
		a.out.jsonLine("step", e)
		return
	}
	mark := map[string]string{"done": "+", "exists": "=", "updated": "~", "recovered": "!", "removed": "-", "warning": "!", "waiting": "…"}[e.Status]
	if mark == "" {
		mark = "·"
	}
	a.out.say("%s %-13s %s", mark, e.Step, e.Message)
}

func (a *app) awsProvisionCommand(f *awsFlags) *cobra.Command {
	var o awsops.ProvisionOptions
	var key, policyFile, ca string
	var awsKey bool
	cmd := &cobra.Command{
		Use:   "provision",
		Short: "Create or reuse a thing, its key, certificate and policy, and write the board's files",
		Long: `Create or reuse everything a board needs to publish to AWS IoT Core:

  thing          named --thing, or esp8266-a1b2c3 from --mac
  key pair       generated here (RSA 2048, or --key ec-p256); AWS signs a CSR,
                 so the private key never leaves this computer. --aws-generated-key
                 lets AWS make the pair instead, as the console's one-click
                 certificate does.
  policy         iotbench-device: connect only as client id = thing name, publish
                 only to iotbench/<thing>/telemetry and .../status, subscribe and
                 receive only iotbench/<thing>/cmd (or --policy FILE)
  attachments    policy → certificate, certificate → thing
  endpoint       the account's iot:Data-ATS address, and the matching Amazon root CA
  files          cert.der, private.der (PKCS#1 for RSA, as BearSSL reads it),
                 ca.der and PEM copies, in the ledger folder and --out DIR

Every step checks the ledger and AWS first: run it again after any failure.

Examples:
  iotbench aws provision --thing bench-01 --out data/
  iotbench aws provision --mac a4:cf:12:a1:b2:c3 --key ec-p256 --region eu-west-1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			kt, err := awsops.ParseKeyType(key)
			if err != nil {
				return err
			}
			if awsKey {
				kt = awsops.KeyAWSGenerated
			}
			o.Key = kt
			switch ca {
			case "1", "ca1", awsops.RootCA1:
				o.CA = awsops.RootCA1
			case "3", "ca3", awsops.RootCA3:
				o.CA = awsops.RootCA3
			default:
				return usagef("--ca %q: use 1 (Amazon Root CA 1, RSA) or 3 (Amazon Root CA 3, ECC)", ca)
			}
			if policyFile != "" {
				b, err := os.ReadFile(policyFile)
				if err != nil {
					return err
				}
				o.PolicyDocument = b
			}
			if o.Thing == "" && o.MAC == "" {
				return usagef("aws provision needs --thing NAME or --mac MAC (see --help)")
			}
			c, done, err := a.awsClient(cmd.Context(), f)
			if err != nil {
				return err
			}
			defer done()
			o.OnEvent = a.awsEvent
			res, err := c.Provision(cmd.Context(), o)
			if err != nil {
				return err
			}
			a.out.say("Thing %s is ready: connect to %s:%d as client id %s, publish to %s.", res.Thing, res.Endpoint, res.Port, res.ClientID, res.Topics.Telemetry)
			a.out.say("Device files (the key only in files, mode 0600): %s", strings.Join(res.Files[awsops.FileKeyDER], ", "))
			a.out.say("The board must sync its clock (SNTP) before the TLS handshake.")
			return a.out.result(res)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Thing, "thing", "", "thing name, also the MQTT client id (letters, digits, ':', '_', '-')")
	fl.StringVar(&o.MAC, "mac", "", "the board's MAC: names the thing when --thing is not given, and is recorded")
	fl.StringVar(&o.Chip, "chip-family", "esp8266", "prefix of the thing name derived from --mac")
	fl.StringVar(&key, "key", "rsa2048", "key pair made on this computer: rsa2048 or ec-p256 (cheaper TLS on an ESP)")
	fl.BoolVar(&awsKey, "aws-generated-key", false, "let AWS generate the key pair (CreateKeysAndCertificate), as the console does")
	fl.StringVar(&policyFile, "policy", "", "use this IoT policy document instead of the least-privilege template")
	fl.StringVar(&o.PolicyName, "policy-name", "", "policy name (default iotbench-device, or THING-policy with --policy)")
	fl.StringVar(&ca, "ca", "1", "root CA written as ca.der: 1 (Amazon Root CA 1, RSA) or 3 (Amazon Root CA 3, ECC)")
	fl.StringVarP(&o.OutDir, "out", "o", "", "also write the device files to this folder")
	return cmd
}

func (a *app) awsDeprovisionCommand(f *awsFlags) *cobra.Command {
	var o awsops.DeprovisionOptions
	cmd := &cobra.Command{
		Use:   "deprovision THING",
		Short: "Detach, deactivate and delete a thing's certificates, then the thing, its unused policy and its local key",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Thing = args[0]
			}
			if o.Thing == "" {
				return usagef("aws deprovision needs the thing name")
			}
			c, done, err := a.awsClient(cmd.Context(), f)
			if err != nil {
				return err
			}
			defer done()
			o.OnEvent = a.awsEvent
			res, err := c.Deprovision(cmd.Context(), o)
			if err != nil {
				return err
			}
			a.out.say("Removed %d item(s) for %s.", len(res.Removed), res.Thing)
			return a.out.result(res)
		},
	}
	cmd.Flags().StringVar(&o.Thing, "thing", "", "thing name (or give it as the argument)")
	cmd.Flags().BoolVar(&o.Force, "force", false, "also delete certificates attached to the thing that this computer did not make")
	cmd.Flags().BoolVar(&o.KeepPolicy, "keep-policy", false, "keep the policy even when nothing uses it any more")
	return cmd
}

func (a *app) awsStatusCommand(f *awsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "status THING",
		Short: "What exists for a thing: certificates, their state and policies, the key on this computer",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, done, err := a.awsClient(cmd.Context(), f)
			if err != nil {
				return err
			}
			defer done()
			st, err := c.Status(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if !a.jsonOut {
				exists := "does not exist"
				if st.Exists {
					exists = "exists"
				}
				a.out.say("Thing %s %s in %s (account %s)", st.Thing, exists, st.Region, st.Account)
				if st.Endpoint != "" {
					a.out.say("Endpoint: %s", st.Endpoint)
				}
				for _, cs := range st.Certificates {
					attached := "not attached"
					if cs.Attached {
						attached = "attached"
					}
					key := ""
					if cs.Recorded {
						key = ", recorded here"
						if cs.KeyOnBench {
							key += ", key on this computer"
						}
					}
					pols := "no policy"
					if len(cs.Policies) > 0 {
						pols = "policy " + strings.Join(cs.Policies, ", ")
					}
					a.out.say("Certificate %s: %s, %s, %s%s", cs.ID, cs.Status, attached, pols, key)
				}
				for _, p := range st.Problems {
					a.out.say("Problem: %s", p)
				}
				if st.Ready {
					a.out.say("Ready: a board with this computer's files can connect.")
				}
			}
			return a.out.result(st)
		},
	}
}

func (a *app) awsPolicyCommand(f *awsFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Check what a board's policy allows, or print the template"}
	var req awsops.CheckRequest
	var files []string
	var attached bool
	var region, account string
	check := &cobra.Command{
		Use:   "check",
		Short: "Would the board be allowed to connect as CLIENT and publish/subscribe/receive TOPICs?",
		Long: `Evaluate IoT policies the way AWS IoT does (policy variables, * and ?
wildcards, + and # literal, explicit Deny wins) for one connection.

Without --policy the policies attached to the thing's certificate in AWS are
used. With --policy FILE (repeatable) the check runs offline against those
documents; --attached says to assume the certificate is attached to the thing.

Exit code is non-zero when anything would be refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if req.Thing == "" {
				return usagef("aws policy check needs --thing NAME")
			}
			var res *awsops.CheckResult
			if len(files) > 0 {
				if err := awsops.ValidateThingName(req.Thing); err != nil {
					return err
				}
				req.Policies = []*policy.Document{}
				for _, p := range files {
					b, err := os.ReadFile(p)
					if err != nil {
						return err
					}
					d, err := policy.Parse(b)
					if err != nil {
						return &awsops.InputError{Msg: p + ": " + err.Error()}
					}
					d.Name = p
					req.Policies = append(req.Policies, d)
				}
				req.CertAttached = attached
				res = awsops.CheckPolicies(policy.Scope{Region: region, Account: account}, req)
			} else {
				c, done, err := a.awsClient(cmd.Context(), f)
				if err != nil {
					return err
				}
				defer done()
				if res, err = c.CheckPolicy(cmd.Context(), req); err != nil {
					return err
				}
			}
			for _, d := range res.Decisions {
				verdict := "ALLOW"
				if !d.Allowed {
					verdict = "DENY "
				}
				a.out.say("%s %s: %s", verdict, d.Action, d.Reason)
			}
			a.out.result(res)
			return res.Err()
		},
	}
	cf := check.Flags()
	cf.StringVar(&req.Thing, "thing", "", "thing name")
	cf.StringVar(&req.ClientID, "client-id", "", "MQTT client id (default: the thing name)")
	cf.StringArrayVar(&req.Publish, "publish", nil, "topic to publish to (repeatable)")
	cf.StringArrayVar(&req.Subscribe, "subscribe", nil, "topic filter to subscribe to (repeatable)")
	cf.StringArrayVar(&req.Receive, "receive", nil, "topic to receive on (repeatable)")
	cf.StringArrayVar(&files, "policy", nil, "check against this policy document instead of AWS (repeatable; offline)")
	cf.BoolVar(&attached, "attached", true, "with --policy: assume the certificate is attached to the thing")
	cf.StringVar(&region, "policy-region", "eu-west-1", "with --policy: the region of the resource ARNs")
	cf.StringVar(&account, "policy-account", "123456789012", "with --policy: the account of the resource ARNs")
	var tRegion, tAccount string
	template := &cobra.Command{
		Use:   "template",
		Short: "Print the least-privilege device policy iotbench attaches",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			doc := policy.DevicePolicy(policy.Scope{Region: tRegion, Account: tAccount}, "")
			if a.jsonOut {
				return a.out.result(map[string]any{"name": awsops.DefaultPolicyName, "document": string(doc)})
			}
			fmt.Fprintln(a.stdout, string(doc))
			return nil
		},
	}
	template.Flags().StringVar(&tRegion, "policy-region", "*", "region in the ARNs (provision uses the real one)")
	template.Flags().StringVar(&tAccount, "policy-account", "*", "account in the ARNs (provision uses the real one)")
	cmd.AddCommand(check, template)
	return cmd
}

func (a *app) awsRuleCommand(f *awsFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "rule", Short: "The IoT rule that stores telemetry in DynamoDB"}
	var o awsops.RuleOptions
	var ttl string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create (or update) the telemetry rule, its DynamoDB table and IAM role",
		Long: `Create what stores every board's telemetry as a time series:

  table   iotbench-telemetry, on-demand billing, partition key device (S),
          sort key ts (N, epoch ms); --ttl makes items expire
  role    iotbench-telemetry-rule, trusted by iot.amazonaws.com for this rule
          only, allowed dynamodb:PutItem on the table only
  rule    iotbench_telemetry:
          SELECT *, topic(2) AS device, timestamp() AS ts FROM 'iotbench/+/telemetry'
          (topic() counts from 1: level 2 is the thing name, which the device
          policy pins, so a board cannot write as another)

A new role takes a while to reach IoT; creation retries until it does.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if ttl != "" {
				d, err := parseAge(ttl)
				if err != nil {
					return usagef("--ttl %q: %v", ttl, err)
				}
				o.TTL = d
			}
			c, done, err := a.awsClient(cmd.Context(), f)
			if err != nil {
				return err
			}
			defer done()
			o.OnEvent = a.awsEvent
			res, err := c.CreateRule(cmd.Context(), o)
			if err != nil {
				return err
			}
			a.out.say("Rule %s stores %s in table %s.", res.Rule, "iotbench/+/telemetry", res.Table)
			return a.out.result(res)
		},
	}
	cf := create.Flags()
	cf.StringVar(&o.Table, "table", awsops.DefaultTable, "DynamoDB table")
	cf.StringVar(&o.Rule, "rule", awsops.DefaultRule, "rule name (letters, digits, '_')")
	cf.StringVar(&o.Role, "role", awsops.DefaultRole, "IAM role the rule acts as")
	cf.StringVar(&ttl, "ttl", "", "delete items this long after they arrive, e.g. 30d (default: keep)")
	cmd.AddCommand(create)
	return cmd
}

func (a *app) awsHistoryCommand(f *awsFlags) *cobra.Command {
	var o awsops.HistoryOptions
	var since, until string
	cmd := &cobra.Command{
		Use:   "history THING",
		Short: "A thing's stored telemetry in a time range, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now()
			var err error
			if o.Since, err = parseWhen(since, now); err != nil {
				return usagef("--since %q: %v", since, err)
			}
			if until != "" {
				if o.Until, err = parseWhen(until, now); err != nil {
					return usagef("--until %q: %v", until, err)
				}
			}
			o.Thing = args[0]
			c, done, err := a.awsClient(cmd.Context(), f)
			if err != nil {
				return err
			}
			defer done()
			rs, err := c.History(cmd.Context(), o)
			if err != nil {
				return err
			}
			if a.jsonOut {
				for _, r := range rs {
					a.out.jsonLine("reading", r)
				}
				return a.out.result(map[string]any{"thing": o.Thing, "count": len(rs)})
			}
			for _, r := range rs {
				b, _ := json.Marshal(r.Fields)
				a.out.say("%s  %s", r.Time.Local().Format("2006-01-02 15:04:05.000"), b)
			}
			a.out.say("%d reading(s) of %s since %s", len(rs), o.Thing, o.Since.Local().Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().StringVar(&since, "since", "1h", "start: an age (90s, 15m, 1h, 7d) or a time (RFC 3339)")
	cmd.Flags().StringVar(&until, "until", "", "end: an age or a time (default: now)")
	cmd.Flags().IntVar(&o.Limit, "limit", 0, "at most this many readings, newest first (default: all)")
	cmd.Flags().StringVar(&o.Table, "table", awsops.DefaultTable, "DynamoDB table")
	return cmd
}

// parseAge reads a Go duration or a number of days ("7d").
func parseAge(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("not a number of days")
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("use e.g. 90s, 15m, 1h or 7d")
	}
	return d, nil
}

// parseWhen reads an age before now or an RFC 3339 time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := parseAge(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("use an age (90s, 15m, 1h, 7d) or a time (2026-11-25T10:00:00Z)")
	}
	return now.Add(-d), nil
}
