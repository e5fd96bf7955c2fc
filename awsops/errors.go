package awsops

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// InputError is a bad value from the user: a thing name AWS would refuse,
// a MAC that is not one, an invalid policy document, an unknown key type.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

func inputErrorf(format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...)}
}

// ConfigError is a problem with the AWS setup on this machine rather than
// with AWS: no credentials, credentials AWS does not recognise, no or an
// unknown region, a missing profile, an endpoint that cannot be reached.
// Msg says how to fix it.
type ConfigError struct {
	Msg string
	Err error
}

func (e *ConfigError) Error() string { return e.Msg }
func (e *ConfigError) Unwrap() error { return e.Err }

// AccessDeniedError is AWS refusing a call because the caller's IAM
// identity lacks a permission; Action is the IAM action to add.
type AccessDeniedError struct {
	Op       string // the API call, e.g. "iot:CreateThing"
	Action   string // the IAM action AWS named (usually Op)
	Resource string // the resource AWS named, if any
	Identity string // the caller AWS named, if any
	Err      error
}

func (e *AccessDeniedError) Error() string {
	who := "your AWS identity"
	if e.Identity != "" {
		who = e.Identity
	}
	on := ""
	if e.Resource != "" {
		on = " on " + e.Resource
	}
	return fmt.Sprintf("AWS denied %s%s: %s lacks the IAM permission %q; add it to that identity's IAM policy (the permissions iotbench needs are listed in `iotbench aws --help`)", e.Op, on, who, e.Action)
}
func (e *AccessDeniedError) Unwrap() error { return e.Err }

// ThrottledError is AWS still rate-limiting a call after the SDK's retries
// with backoff.
type ThrottledError struct {
	Op  string
	Err error
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("AWS kept throttling %s after retrying with backoff: wait a minute and run the command again (it resumes where it stopped)", e.Op)
}
func (e *ThrottledError) Unwrap() error { return e.Err }

// NotFoundError is a thing, certificate, rule or table that does not exist
// (in this account and region).
type NotFoundError struct {
	What, Name, Region string
	Hint               string
}

func (e *NotFoundError) Error() string {
	s := fmt.Sprintf("%s %s does not exist in region %s", e.What, e.Name, e.Region)
	if e.Hint != "" {
		s += ": " + e.Hint
	}
	return s
}

// ServiceError is any other error AWS answered with.
type ServiceError struct {
	Op, Code, Message string
	Err               error
}

func (e *ServiceError) Error() string {
	return fmt.Sprintf("%s failed: %s: %s", e.Op, e.Code, e.Message)
}
func (e *ServiceError) Unwrap() error { return e.Err }

// KeyMismatchError is a certificate that does not certify the key iotbench
// holds for it: a board given both would fail its TLS handshake.
type KeyMismatchError struct {
	CertificateID string
	Why           string
}

func (e *KeyMismatchError) Error() string {
	return fmt.Sprintf("certificate %s does not hold the bench's key: %s", e.CertificateID, e.Why)
}

// DeniedError is a policy check whose answer is no.
type DeniedError struct {
	Decisions []CheckDecision
}

func (e *DeniedError) Error() string {
	var parts []string
	for _, d := range e.Decisions {
		if !d.Allowed {
			parts = append(parts, d.Reason)
		}
	}
	return "the policy would refuse the board: " + strings.Join(parts, "; ")
}

var notAuthorizedRE = regexp.MustCompile(`(?:User|Principal): (\S+) is not authorized to perform: (\S+?)(?: on resource: (\S+?))?(?: because.*)?$`)

// classify turns an SDK error into one of the typed errors above. op is
// the call, "service:Operation".
func classify(op, region string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code, msg := ae.ErrorCode(), ae.ErrorMessage()
		switch code {
		case "AccessDeniedException", "AccessDenied", "UnauthorizedException", "UnauthorizedOperation", "AuthorizationError":
			d := &AccessDeniedError{Op: op, Action: op, Err: err}
			if m := notAuthorizedRE.FindStringSubmatch(strings.TrimSpace(msg)); m != nil {
				d.Identity, d.Action, d.Resource = m[1], m[2], m[3]
			}
			return d
		case "UnrecognizedClientException", "InvalidClientTokenId", "InvalidAccessKeyId":
			return &ConfigError{Err: err, Msg: fmt.Sprintf("%s: AWS does not recognise the access key (%s): check the credentials in use (`aws sts get-caller-identity`), renew SSO credentials with `aws sso login`, or pick another --profile", op, code)}
		case "SignatureDoesNotMatch", "InvalidSignatureException":
			return &ConfigError{Err: err, Msg: fmt.Sprintf("%s: AWS rejected the request signature (%s): the secret access key is wrong, or this computer's clock is off by more than 5 minutes (%s)", op, code, msg)}
		case "ExpiredToken", "ExpiredTokenException", "RequestExpired":
			return &ConfigError{Err: err, Msg: fmt.Sprintf("%s: the AWS session credentials have expired (%s): renew them (`aws sso login`, or new temporary credentials)", op, code)}
		case "MalformedPolicyException", "MalformedPolicyDocument":
			return &InputError{Msg: fmt.Sprintf("%s: AWS refused the policy document: %s", op, msg)}
		}
		var me *retry.MaxAttemptsError
		if isThrottle(code) || (errors.As(err, &me) && isThrottle(code)) {
			return &ThrottledError{Op: op, Err: err}
		}
		return &ServiceError{Op: op, Code: code, Message: msg, Err: err}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return &ConfigError{Err: err, Msg: fmt.Sprintf("%s: cannot resolve %s: check the region (%q: is it a region where AWS IoT Core is offered?) and your network", op, dnsErr.Name, region)}
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return &ConfigError{Err: err, Msg: fmt.Sprintf("%s: cannot reach AWS: %v", op, opErr)}
	}
	if strings.Contains(err.Error(), "get credentials") || strings.Contains(err.Error(), "failed to refresh cached credentials") {
		return noCredentials(err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func isThrottle(code string) bool {
	switch code {
	case "ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException",
		"RequestLimitExceeded", "ProvisionedThroughputExceededException", "RequestThrottled", "RequestThrottledException", "SlowDown":
		return true
	}
	return false
}

func noCredentials(err error) error {
	return &ConfigError{Err: err, Msg: "no AWS credentials found: run `aws configure` (access key), `aws configure sso` then `aws sso login` (IAM Identity Center), set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass --profile NAME for a profile in ~/.aws/config"}
}

// isCode reports whether err is an AWS error with one of the codes.
func isCode(err error, codes ...string) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	for _, c := range codes {
		if ae.ErrorCode() == c {
			return true
		}
	}
	return false
}

func isNotFound(err error) bool {
	return isCode(err, "ResourceNotFoundException", "NoSuchEntity", "NoSuchEntityException")
}
