package awsops

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/iotbench/iotbench/awsops/policy"
)

// Options say how to reach AWS. The zero value uses the SDK's default
// credential chain (environment, shared profiles, SSO, container and
// instance roles) and region.
type Options struct {
	// Profile is a named profile of ~/.aws/config (--profile).
	Profile string
	// Region overrides the profile's or AWS_REGION's.
	Region string
	// EndpointURL sends every service to one base URL (an emulator such as
	// moto, or a VPC endpoint); AWS_ENDPOINT_URL does the same.
	EndpointURL string
	// Credentials replace the default chain when set.
	Credentials aws.CredentialsProvider
	// DisableIMDS keeps the SDK from asking the EC2 instance metadata
	// service for credentials or the region (tests; also
	// AWS_EC2_METADATA_DISABLED=true).
	DisableIMDS bool
	// MaxAttempts and MaxBackoff tune retries of throttled and failed
	// calls (defaults 8 and 20 s).
	MaxAttempts int
	MaxBackoff  time.Duration
	// RoleWait bounds how long CreateRule waits for a new IAM role to
	// become usable by IoT (default 90 s); RolePoll is the first delay
	// between attempts (default 2 s, doubling up to 10 s).
	RoleWait time.Duration
	RolePoll time.Duration
	// LedgerDir is where the ledger lives (default DefaultLedgerDir()).
	LedgerDir string
	// Trace receives one line per HTTP attempt (service, operation,
	// status, duration); never bodies, so never key material.
	Trace func(string)
}

// Client is a connection to one AWS account and region, with the ledger
// of what this bench provisioned there.
type Client struct {
	opts   Options
	cfg    aws.Config
	iot    *iot.Client
	iam    *iam.Client
	ddb    *dynamodb.Client
	sts    *sts.Client
	Ledger *Ledger

	identMu sync.Mutex // boards provisioned in parallel share the client
	ident   *Identity
	// crash, when set by tests, is called at every checkpoint of the
	// provisioning flow; an error stops the flow there as if the process
	// had been killed.
	crash func(point string) error
	now   func() time.Time
}

// Identity is who the credentials belong to, and where resources go.
type Identity struct {
	Account   string
	ARN       string
	Partition string
	Region    string
}

// Scope is the identity as a policy scope (partition, region, account).
func (id *Identity) Scope() policy.Scope {
	return policy.Scope{Partition: id.Partition, Region: id.Region, Account: id.Account}
}

var regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)

// New loads the AWS configuration and checks that there are credentials
// and a region, so that the first real call does not fail obscurely.
func New(ctx context.Context, o Options) (*Client, error) {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 20 * time.Second
	}
	if o.RoleWait <= 0 {
		o.RoleWait = 90 * time.Second
	}
	if o.RolePoll <= 0 {
		o.RolePoll = 2 * time.Second
	}
	var lo []func(*config.LoadOptions) error
	if o.Profile != "" {
		lo = append(lo, config.WithSharedConfigProfile(o.Profile))
	}
	if o.Region != "" {
		lo = append(lo, config.WithRegion(o.Region))
	}
	if o.EndpointURL != "" {
		lo = append(lo, config.WithBaseEndpoint(o.EndpointURL))
	}
	if o.Credentials != nil {
		lo = append(lo, config.WithCredentialsProvider(o.Credentials))
	}
	if o.DisableIMDS {
		lo = append(lo, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	lo = append(lo, config.WithRetryer(func() aws.Retryer {
		return retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = o.MaxAttempts
			so.MaxBackoff = o.MaxBackoff
			so.Backoff = retry.NewExponentialJitterBackoff(o.MaxBackoff)
			// A bench provisions a handful of things: a client-side retry
			// budget would only turn a long throttle into a failure.
			so.RateLimiter = ratelimit.None
			// A refused connection or a name that does not resolve is not
			// a blip: say so now instead of after a minute of backoff.
			so.Retryables = append([]retry.IsErrorRetryable{unreachable{}}, retry.DefaultRetryables...)
		})
	}))
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		var pe config.SharedConfigProfileNotExistError
		if errors.As(err, &pe) {
			return nil, &ConfigError{Err: err, Msg: fmt.Sprintf("AWS profile %q is not in ~/.aws/config or ~/.aws/credentials: create it with `aws configure --profile %s` (or `aws configure sso`), or list the existing ones with `aws configure list-profiles`", pe.Profile, pe.Profile)}
		}
		return nil, &ConfigError{Err: err, Msg: "loading the AWS configuration: " + err.Error()}
	}
	if cfg.Region == "" {
		return nil, &ConfigError{Msg: "no AWS region: pass --region (e.g. --region eu-west-1), set AWS_REGION, or add `region = …` to the profile in ~/.aws/config"}
	}
	if !regionRE.MatchString(cfg.Region) {
		return nil, &ConfigError{Msg: fmt.Sprintf("%q is not an AWS region name (they look like eu-west-1 or us-east-2): check --region, AWS_REGION and the profile's region", cfg.Region)}
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err = cfg.Credentials.Retrieve(rctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, noCredentials(err)
	}
	if o.Trace != nil {
		cfg.APIOptions = append(cfg.APIOptions, func(st *middleware.Stack) error {
			return st.Deserialize.Add(traceMiddleware(o.Trace), middleware.After)
		})
	}
	c := &Client{
		opts: o, cfg: cfg,
		iot: iot.NewFromConfig(cfg), iam: iam.NewFromConfig(cfg),
		ddb: dynamodb.NewFromConfig(cfg), sts: sts.NewFromConfig(cfg),
		now: time.Now,
	}
	dir := o.LedgerDir
	if dir == "" {
		if dir, err = DefaultLedgerDir(); err != nil {
			return nil, err
		}
	}
	if c.Ledger, err = OpenLedger(dir); err != nil {
		return nil, err
	}
	return c, nil
}

// Region is the configured region.
func (c *Client) Region() string { return c.cfg.Region }

func traceMiddleware(trace func(string)) middleware.DeserializeMiddleware {
	return middleware.DeserializeMiddlewareFunc("iotbenchTrace", func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
		start := time.Now()
		out, md, err := next.HandleDeserialize(ctx, in)
		status := "no response"
		if resp, ok := out.RawResponse.(*smithyhttp.Response); ok && resp != nil {
			status = fmt.Sprint(resp.StatusCode)
		}
		trace(fmt.Sprintf("aws %s:%s → %s (%s)", strings.ToLower(awsmiddleware.GetServiceID(ctx)), awsmiddleware.GetOperationName(ctx), status, time.Since(start).Round(time.Millisecond)))
		return out, md, err
	})
}

// Identity asks STS who the credentials are (cached).
func (c *Client) Identity(ctx context.Context) (*Identity, error) {
	c.identMu.Lock()
	defer c.identMu.Unlock()
	if c.ident != nil {
		return c.ident, nil
	}
	out, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, c.classify("sts:GetCallerIdentity", err)
	}
	id := &Identity{Account: aws.ToString(out.Account), ARN: aws.ToString(out.Arn), Partition: "aws", Region: c.cfg.Region}
	// The partition (aws, aws-cn, aws-us-gov) is the ARN's second field.
	if parts := strings.SplitN(id.ARN, ":", 3); len(parts) == 3 && parts[1] != "" {
		id.Partition = parts[1]
	}
	c.ident = id
	return id, nil
}

// Credentials are the credentials the client signs with (the viewer's
// SigV4 WebSocket uses the same).
func (c *Client) Credentials() aws.CredentialsProvider { return c.cfg.Credentials }

func (c *Client) classify(op string, err error) error { return classify(op, c.cfg.Region, err) }

// checkpoint is where a test may stop the flow.
func (c *Client) checkpoint(point string) error {
	if c.crash != nil {
		return c.crash(point)
	}
	return nil
}

// unreachable stops retries of errors that waiting does not cure: the
// endpoint refusing connections (wrong --endpoint-url, a proxy down) or
// its name not resolving (wrong region spelling, no DNS).
type unreachable struct{}

func (unreachable) IsErrorRetryable(err error) aws.Ternary {
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return aws.FalseTernary
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return aws.FalseTernary
	}
	return aws.UnknownTernary
}
