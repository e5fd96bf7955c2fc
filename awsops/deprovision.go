package awsops

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
)

// DeprovisionOptions say what to tear down.
type DeprovisionOptions struct {
	Thing string
	// Force also removes certificates attached to the thing that this
	// bench did not make.
	Force bool
	// KeepPolicy keeps the policy even when nothing uses it any more.
	KeepPolicy bool
	OnEvent    func(Event)
}

// DeprovisionResult says what was removed and what was left, and why.
type DeprovisionResult struct {
	Thing   string   `json:"thing"`
	Removed []string `json:"removed"`
	Left    []string `json:"left"`
}

// Deprovision removes a thing in AWS's order: each certificate is detached
// from the thing and its policies, deactivated and deleted; then the thing;
// then the policy when nothing else uses it; then the ledger folder with
// the key. Copies of the device files written with --out stay.
func (c *Client) Deprovision(ctx context.Context, o DeprovisionOptions) (*DeprovisionResult, error) {
	if err := ValidateThingName(o.Thing); err != nil {
		return nil, err
	}
	id, err := c.Identity(ctx)
	if err != nil {
		return nil, err
	}
	res := &DeprovisionResult{Thing: o.Thing, Removed: []string{}, Left: []string{}}
	emit := func(status, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if status == "removed" {
			res.Removed = append(res.Removed, msg)
		} else {
			res.Left = append(res.Left, msg)
		}
		if o.OnEvent != nil {
			o.OnEvent(Event{Step: "deprovision", Status: status, Message: msg})
		}
	}
	rec, err := c.Ledger.Load(id.Account, id.Region, o.Thing)
	if err != nil {
		return nil, err
	}
	ours := map[string]string{} // ARN → id
	if rec != nil {
		if rec.CertificateARN != "" {
			ours[rec.CertificateARN] = rec.CertificateID
		}
		for _, r := range rec.Retired {
			ours[r.CertificateARN] = r.CertificateID
		}
	}
	thingExists := true
	principals, err := c.thingPrincipals(ctx, o.Thing)
	if isNotFound(err) {
		thingExists, err = false, nil
	}
	if err != nil {
		return nil, err
	}
	if !thingExists && rec == nil {
		return nil, &NotFoundError{What: "thing", Name: o.Thing, Region: id.Region, Hint: "nothing to remove (check --region and --profile)"}
	}
	targets := map[string]string{}
	for arn, cid := range ours {
		targets[arn] = cid
	}
	for _, p := range principals {
		if _, ok := ours[p]; ok {
			continue
		}
		cid := certIDFromARN(p)
		if o.Force && cid != "" {
			targets[p] = cid
			continue
		}
		if _, err := c.iot.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String(o.Thing), Principal: aws.String(p)}); err != nil && !isNotFound(err) {
			return nil, c.classify("iot:DetachThingPrincipal", err)
		}
		emit("removed", "detached %s from thing %s", p, o.Thing)
		emit("left", "kept certificate %s: this bench did not make it (--force deletes it too)", p)
	}
	sub := func(e Event) { emit("removed", "%s", e.Message) }
	for arn, cid := range targets {
		removed, err := c.removeCertificate(ctx, cid, arn, sub)
		if err != nil {
			return nil, err
		}
		if removed {
			emit("removed", "deactivated and deleted certificate %s", cid)
		}
	}
	if thingExists {
		if err := c.deleteThing(ctx, o.Thing); err != nil {
			return nil, err
		}
		emit("removed", "deleted thing %s", o.Thing)
	}
	if rec != nil && rec.Policy != "" && !o.KeepPolicy {
		if rec.PolicyManaged || rec.Policy == DefaultPolicyName {
			if err := c.deletePolicyIfUnused(ctx, rec.Policy, emit); err != nil {
				return nil, err
			}
		} else {
			emit("left", "kept policy %s: this bench did not create it", rec.Policy)
		}
	}
	if rec != nil {
		if err := c.Ledger.Remove(rec); err != nil {
			return nil, fmt.Errorf("removing the ledger folder: %w", err)
		}
		emit("removed", "removed the ledger folder %s (private key included)", c.Ledger.ThingDir(rec.Account, rec.Region, rec.Thing))
		if rec.OutDir != "" {
			emit("left", "kept the device files in %s (delete them yourself if the board is gone)", rec.OutDir)
		}
	}
	return res, nil
}

func certIDFromARN(arn string) string {
	for i := len(arn) - 1; i >= 0; i-- {
		if arn[i] == '/' {
			if id := arn[i+1:]; certIDRE.MatchString(id) {
				return id
			}
			return ""
		}
	}
	return ""
}

// deleteThing retries while AWS still sees principals attached (the
// detach is asynchronous).
func (c *Client) deleteThing(ctx context.Context, thing string) error {
	delay := 250 * time.Millisecond
	deadline := c.now().Add(20 * time.Second)
	for {
		_, err := c.iot.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String(thing)})
		if err == nil || isNotFound(err) {
			return nil
		}
		if !isCode(err, "InvalidRequestException") || c.now().After(deadline) {
			return c.classify("iot:DeleteThing", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 4*time.Second)
	}
}

func (c *Client) deletePolicyIfUnused(ctx context.Context, name string, emit func(status, format string, args ...any)) error {
	out, err := c.iot.ListTargetsForPolicy(ctx, &iot.ListTargetsForPolicyInput{PolicyName: aws.String(name)})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return c.classify("iot:ListTargetsForPolicy", err)
	}
	if len(out.Targets) > 0 {
		emit("left", "kept policy %s: %d other certificate(s) use it", name, len(out.Targets))
		return nil
	}
	vs, err := c.iot.ListPolicyVersions(ctx, &iot.ListPolicyVersionsInput{PolicyName: aws.String(name)})
	if err != nil {
		return c.classify("iot:ListPolicyVersions", err)
	}
	for _, v := range vs.PolicyVersions {
		if v.IsDefaultVersion {
			continue
		}
		if _, err := c.iot.DeletePolicyVersion(ctx, &iot.DeletePolicyVersionInput{PolicyName: aws.String(name), PolicyVersionId: v.VersionId}); err != nil && !isNotFound(err) {
			return c.classify("iot:DeletePolicyVersion", err)
		}
	}
	_, err = c.iot.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String(name)})
	switch {
	case err == nil:
		emit("removed", "deleted policy %s", name)
	case isNotFound(err):
	case isCode(err, "DeleteConflictException"):
		// AWS may refuse for minutes after the last detach.
		emit("left", "kept policy %s: AWS still counts it as attached (it can take five minutes after a detach); run deprovision again later to delete it", name)
	default:
		return c.classify("iot:DeletePolicy", err)
	}
	return nil
}
