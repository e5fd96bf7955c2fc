package doctor

import (
	"fmt"
	"strings"

	"github.com/iotbench/iotbench/serialmon/decode"
)

// CloudFacts is what the cloud side says about one board's identity. The
// provisioning pipeline and the CLI fill it from awsops or the local
// cloud; fields left at their zero value were not checked (the Checked
// flags say which were).
type CloudFacts struct {
	Cloud string // "aws" or "local"
	Thing string

	// Errors are checks that could not be made (AWS unreachable, access
	// denied to a read API): each becomes a finding, since the diagnosis is
	// incomplete without them.
	Errors []string

	ThingChecked bool
	ThingExists  bool

	CertChecked   bool
	CertID        string
	CertFound     bool   // the board's certificate is registered
	CertStatus    string // ACTIVE, INACTIVE, REVOKED, PENDING_TRANSFER …
	CertAttached  bool   // attached to the thing (iot:Connection.Thing.IsAttached)
	PolicyChecked bool
	Policies      []string // attached to the certificate

	// The policy evaluator's verdicts for what the board does.
	ClientID string
	Topic    string
	Connect  *Decision
	Publish  *Decision

	EndpointChecked bool
	Endpoint        string // what config.json points at
	WantEndpoint    string // the account's iot:Data-ATS endpoint (or the local broker)
	EndpointKind    string // "ats", "legacy" (VeriSign, deprecated), "local", "other"

	// OtherConnections counts other live connections using the same client
	// id (the local broker knows; AWS lifecycle events can tell).
	OtherConnections int
	// Refusals are the broker's own log of refused connects/publishes for
	// this client (local cloud), newest last.
	Refusals []string
}

// Decision is a policy verdict with the evaluator's reason.
type Decision struct {
	Allowed bool
	Reason  string
}

// cloudFindings turns the cloud's facts into causes.
func cloudFindings(c *CloudFacts) []Finding {
	if c == nil {
		return nil
	}
	var fs []Finding
	add := func(code string, step Step, sev decode.Severity, summary, fix string, explains []string, ev ...string) {
		f := Finding{Code: code, Step: step, Severity: sev, Summary: summary, Fix: fix, explains: explains}
		for _, e := range ev {
			f.Evidence = append(f.Evidence, Evidence{Source: SourceCloud, Text: e})
		}
		fs = append(fs, f)
	}
	connectSyms := []string{SymTLS, SymMQTT, SymStalled}
	for _, e := range c.Errors {
		add("cloud.unreachable", StepCloud, decode.Warning, "a cloud check could not be made: "+e,
			"fix access to the cloud API (credentials, region, network) and run the doctor again; until then the cloud side is unchecked", nil, e)
	}
	if c.ThingChecked && !c.ThingExists {
		add("thing.missing", StepMQTT, decode.Error, fmt.Sprintf("thing %q does not exist in the %s cloud", c.Thing, c.Cloud),
			"provision the board again (iotbench provision) so the thing exists and its certificate is attached to it", connectSyms,
			"thing "+c.Thing+": not found")
	}
	if c.CertChecked {
		switch {
		case !c.CertFound:
			add("cert.unknown", StepTLS, decode.Error, "the board's certificate is not registered in the "+c.Cloud+" cloud",
				"the board holds a certificate this account/region does not know: provision it again (iotbench provision writes a new identity) or check --region/--profile",
				connectSyms, "certificate "+c.CertID+": not found")
		case !strings.EqualFold(c.CertStatus, "ACTIVE"):
			add("cert.inactive", StepTLS, decode.Error, fmt.Sprintf("the board's certificate is %s, so the broker refuses it", c.CertStatus),
				activateFix(c), connectSyms, fmt.Sprintf("certificate %s: status %s", c.CertID, c.CertStatus))
		case c.ThingChecked && c.ThingExists && !c.CertAttached:
			add("cert.not_attached", StepMQTT, decode.Error, fmt.Sprintf("the certificate is not attached to thing %q, so a policy that requires iot:Connection.Thing.IsAttached refuses the connect", c.Thing),
				"attach the certificate to the thing (iotbench provision does it; AWS CLI: aws iot attach-thing-principal)", connectSyms,
				fmt.Sprintf("certificate %s: not attached to %s", c.CertID, c.Thing))
		}
	}
	if c.PolicyChecked && c.CertFound && len(c.Policies) == 0 {
		add("policy.none", StepMQTT, decode.Error, "no policy is attached to the board's certificate, so the broker refuses every connect",
			"attach the device policy to the certificate (iotbench provision does it)", connectSyms, "certificate "+c.CertID+": no policies attached")
	}
	if c.Connect != nil && !c.Connect.Allowed {
		add("policy.connect_denied", StepMQTT, decode.Error, fmt.Sprintf("the policy does not allow connecting as client id %q: %s", c.ClientID, c.Connect.Reason),
			fmt.Sprintf("use the thing name %q as the MQTT client id (config.json) or change the policy's iot:Connect resource (client/${iot:Connection.Thing.ThingName})", c.Thing),
			connectSyms, "iot:Connect "+c.ClientID+": "+c.Connect.Reason)
	}
	if c.Publish != nil && !c.Publish.Allowed {
		add("policy.publish_denied", StepPublish, decode.Error, fmt.Sprintf("the policy does not allow publishing to %q: %s", c.Topic, c.Publish.Reason),
			"publish to the thing's own telemetry topic (config.json) or allow it in the policy's iot:Publish resources", []string{SymMQTT, SymPublish, SymNotSeen, SymStalled},
			"iot:Publish "+c.Topic+": "+c.Publish.Reason)
	}
	if c.EndpointChecked {
		switch {
		case c.EndpointKind == "legacy":
			add("endpoint.legacy", StepTLS, decode.Error, "config.json points at a legacy (VeriSign) endpoint, which AWS no longer supports",
				"use the iot:Data-ATS endpoint ("+c.WantEndpoint+") with Amazon Root CA 1 as ca.der", connectSyms, "endpoint "+c.Endpoint)
		case c.WantEndpoint != "" && !strings.EqualFold(c.Endpoint, c.WantEndpoint):
			add("endpoint.wrong", StepTLS, decode.Error, fmt.Sprintf("config.json points at %s but this account's endpoint is %s", c.Endpoint, c.WantEndpoint),
				"rebuild config.json with the account's endpoint (iotbench provision does it) and flash the filesystem again", append(connectSyms, SymNotSeen),
				"config endpoint "+c.Endpoint, "account endpoint "+c.WantEndpoint)
		}
	}
	if c.OtherConnections > 0 {
		add("client_id.duplicate", StepMQTT, decode.Error, fmt.Sprintf("another client is connected with the same client id %q: each connect kicks the other off", c.ClientID),
			"give every board its own thing name and client id; stop test clients that use the board's id", []string{SymMQTT, SymNotSeen},
			fmt.Sprintf("%d other connection(s) with client id %s", c.OtherConnections, c.ClientID))
	}
	if len(c.Refusals) > 0 && len(fs) == 0 {
		add("broker.refused", StepMQTT, decode.Error, "the broker refused the board: "+c.Refusals[len(c.Refusals)-1],
			"see the broker's reason above", connectSyms, c.Refusals...)
	} else if len(c.Refusals) > 0 {
		// Attach the broker's own words to the first cause they support.
		for _, r := range c.Refusals {
			fs[0].Evidence = append(fs[0].Evidence, Evidence{Source: SourceCloud, Text: "broker: " + r})
		}
	}
	return fs
}

func activateFix(c *CloudFacts) string {
	if strings.EqualFold(c.CertStatus, "REVOKED") {
		return "a revoked certificate cannot be re-activated: provision the board again to get a new certificate (iotbench provision --new-cert)"
	}
	if c.Cloud == "local" {
		return "activate the certificate (iotbench cloud cert activate " + c.CertID + ") or provision the board again"
	}
	return "activate the certificate (aws iot update-certificate --certificate-id " + c.CertID + " --new-status ACTIVE) or provision the board again"
}
