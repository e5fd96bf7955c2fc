package awsops

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/iotbench/iotbench/awsops/policy"
)

// CheckRequest asks whether a board would be allowed to connect and use
// topics.
type CheckRequest struct {
	Thing    string
	ClientID string // default: Thing
	// Topics to publish to, receive on, and topic filters to subscribe to.
	Publish, Receive, Subscribe []string
	// Policies, when set, are evaluated instead of the ones attached in
	// AWS (a --policy FILE checked before provisioning); CertAttached then
	// says whether to assume the certificate is attached to the thing.
	Policies     []*policy.Document
	CertAttached bool
}

// CheckDecision is the answer for one action.
type CheckDecision struct {
	Action   string `json:"action"`
	Resource string `json:"resource"`
	Allowed  bool   `json:"allowed"`
	Reason   string `json:"reason"`
}

// CheckResult is the answer for a whole CheckRequest.
type CheckResult struct {
	Thing    string `json:"thing"`
	ClientID string `json:"client_id"`
	// ThingVariables is whether ${iot:Connection.Thing.*} resolve: a
	// certificate is attached to the thing and the client id is its name.
	ThingVariables bool            `json:"thing_variables"`
	Policies       []string        `json:"policies"`
	Decisions      []CheckDecision `json:"decisions"`
	Allowed        bool            `json:"allowed"`
}

// Err is a *DeniedError when something was refused, else nil.
func (r *CheckResult) Err() error {
	if r.Allowed {
		return nil
	}
	return &DeniedError{Decisions: r.Decisions}
}

// CheckPolicies evaluates a request offline, against given documents.
func CheckPolicies(scope policy.Scope, req CheckRequest) *CheckResult {
	if req.ClientID == "" {
		req.ClientID = req.Thing
	}
	ctx := policy.Context{Scope: scope, ClientID: req.ClientID}
	if req.CertAttached && req.ClientID == req.Thing {
		ctx.ThingName = req.Thing
	}
	res := &CheckResult{Thing: req.Thing, ClientID: req.ClientID, ThingVariables: ctx.ThingName != "", Allowed: true}
	for _, d := range req.Policies {
		res.Policies = append(res.Policies, d.Name)
	}
	ask := func(action, resource string) {
		d := policy.Evaluate(req.Policies, policy.Request{Action: action, Resource: resource, Context: ctx})
		res.Decisions = append(res.Decisions, CheckDecision{Action: action, Resource: resource, Allowed: d.Allowed, Reason: d.Reason})
		res.Allowed = res.Allowed && d.Allowed
	}
	ask(policy.ActionConnect, scope.ClientARN(req.ClientID))
	for _, t := range req.Publish {
		ask(policy.ActionPublish, scope.TopicARN(t))
	}
	for _, t := range req.Subscribe {
		ask(policy.ActionSubscribe, scope.TopicFilterARN(t))
	}
	for _, t := range req.Receive {
		ask(policy.ActionReceive, scope.TopicARN(t))
	}
	return res
}

// CheckPolicy evaluates a request against what AWS has: the policies
// attached to the thing's certificate (the one in the ledger when there is
// one, else every certificate attached to the thing).
func (c *Client) CheckPolicy(ctx context.Context, req CheckRequest) (*CheckResult, error) {
	if err := ValidateThingName(req.Thing); err != nil {
		return nil, err
	}
	id, err := c.Identity(ctx)
	if err != nil {
		return nil, err
	}
	if req.Policies != nil {
		return CheckPolicies(id.Scope(), req), nil
	}
	principals, err := c.thingPrincipals(ctx, req.Thing)
	if err != nil {
		if isNotFound(err) {
			return nil, &NotFoundError{What: "thing", Name: req.Thing, Region: id.Region, Hint: "provision it first (iotbench aws provision --thing " + req.Thing + "), or check --region"}
		}
		return nil, err
	}
	certs := principals
	if rec, _ := c.Ledger.Load(id.Account, id.Region, req.Thing); rec != nil && rec.CertificateARN != "" {
		for _, p := range principals {
			if p == rec.CertificateARN {
				certs = []string{p}
			}
		}
	}
	seen := map[string]bool{}
	var docs []*policy.Document
	for _, arn := range certs {
		out, err := c.iot.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(arn)})
		if err != nil {
			return nil, c.classify("iot:ListAttachedPolicies", err)
		}
		for _, p := range out.Policies {
			name := aws.ToString(p.PolicyName)
			if seen[name] {
				continue
			}
			seen[name] = true
			get, err := c.iot.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(name)})
			if err != nil {
				return nil, c.classify("iot:GetPolicy", err)
			}
			d, err := policy.Parse([]byte(aws.ToString(get.PolicyDocument)))
			if err != nil {
				return nil, fmt.Errorf("policy %s in AWS: %w", name, err)
			}
			d.Name = name
			docs = append(docs, d)
		}
	}
	sort.Slice(docs, func(i, j int) bool { return docs[i].Name < docs[j].Name })
	req.Policies = docs
	req.CertAttached = len(principals) > 0
	if docs == nil {
		req.Policies = []*policy.Document{}
	}
	return CheckPolicies(id.Scope(), req), nil
}
