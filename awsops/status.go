package awsops

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// Status is what exists for a thing, in AWS and on this bench.
type Status struct {
	Thing        string       `json:"thing"`
	Region       string       `json:"region"`
	Account      string       `json:"account"`
	Exists       bool         `json:"exists"`
	ThingARN     string       `json:"thing_arn,omitempty"`
	Endpoint     string       `json:"endpoint,omitempty"`
	Policy       string       `json:"policy,omitempty"`
	LedgerDir    string       `json:"ledger_dir,omitempty"`
	Certificates []CertStatus `json:"certificates"`
	// Ready: the ledger's certificate is active, attached to the thing and
	// to a policy, and its key is on this bench.
	Ready    bool     `json:"ready"`
	Problems []string `json:"problems"`
	// Elsewhere lists other regions/accounts where the ledger knows the
	// thing, when it is not found here.
	Elsewhere []string `json:"elsewhere,omitempty"`
}

// CertStatus is one certificate attached to the thing or recorded for it.
type CertStatus struct {
	ID         string   `json:"id"`
	ARN        string   `json:"arn"`
	Status     string   `json:"status"`
	Attached   bool     `json:"attached"`
	Policies   []string `json:"policies"`
	Recorded   bool     `json:"recorded"`
	KeyOnBench bool     `json:"key_on_bench"`
}

// Status reports on a thing without changing anything.
func (c *Client) Status(ctx context.Context, thing string) (*Status, error) {
	if err := ValidateThingName(thing); err != nil {
		return nil, err
	}
	id, err := c.Identity(ctx)
	if err != nil {
		return nil, err
	}
	st := &Status{Thing: thing, Region: id.Region, Account: id.Account, Certificates: []CertStatus{}, Problems: []string{}}
	rec, err := c.Ledger.Load(id.Account, id.Region, thing)
	if err != nil {
		return nil, err
	}
	if rec != nil {
		st.Endpoint, st.Policy = rec.Endpoint, rec.Policy
		st.LedgerDir = c.Ledger.ThingDir(rec.Account, rec.Region, rec.Thing)
	}
	out, err := c.iot.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(thing)})
	switch {
	case err == nil:
		st.Exists, st.ThingARN = true, aws.ToString(out.ThingArn)
	case isNotFound(err):
		others, _ := c.Ledger.Find(thing)
		for _, r := range others {
			if r.Region != id.Region || r.Account != id.Account {
				st.Elsewhere = append(st.Elsewhere, r.Account+"/"+r.Region)
			}
		}
		if rec == nil && len(st.Elsewhere) == 0 {
			return nil, &NotFoundError{What: "thing", Name: thing, Region: id.Region, Hint: "provision it with `iotbench aws provision --thing " + thing + "`, or check --region and --profile"}
		}
		if rec == nil {
			return nil, &NotFoundError{What: "thing", Name: thing, Region: id.Region, Hint: fmt.Sprintf("this bench provisioned it in %v: pass --region", st.Elsewhere)}
		}
		st.Problems = append(st.Problems, "the thing does not exist in AWS (run provision again)")
	default:
		return nil, c.classify("iot:DescribeThing", err)
	}
	var principals []string
	if st.Exists {
		if principals, err = c.thingPrincipals(ctx, thing); err != nil {
			return nil, err
		}
	}
	arns := append([]string{}, principals...)
	if rec != nil && rec.CertificateARN != "" {
		found := false
		for _, p := range principals {
			found = found || p == rec.CertificateARN
		}
		if !found {
			arns = append(arns, rec.CertificateARN)
		}
	}
	var key []byte
	if rec != nil {
		key, _ = c.Ledger.ReadFile(rec, FileKeyPEM)
	}
	for _, arn := range arns {
		cs := CertStatus{ARN: arn, ID: certIDFromARN(arn), Policies: []string{}}
		for _, p := range principals {
			cs.Attached = cs.Attached || p == arn
		}
		cs.Recorded = rec != nil && rec.CertificateARN == arn
		d, err := c.iot.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(cs.ID)})
		switch {
		case isNotFound(err):
			cs.Status = "DELETED"
		case err != nil:
			return nil, c.classify("iot:DescribeCertificate", err)
		default:
			cs.Status = string(d.CertificateDescription.Status)
			if cs.Recorded && key != nil {
				if k, err := parseKeyPEM(key); err == nil {
					cs.KeyOnBench, _ = keyMatches(aws.ToString(d.CertificateDescription.CertificatePem), k)
				}
			}
			pols, err := c.iot.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(arn)})
			if err != nil {
				return nil, c.classify("iot:ListAttachedPolicies", err)
			}
			for _, p := range pols.Policies {
				cs.Policies = append(cs.Policies, aws.ToString(p.PolicyName))
			}
		}
		st.Certificates = append(st.Certificates, cs)
		if cs.Recorded {
			switch {
			case cs.Status != string(iottypes.CertificateStatusActive):
				st.Problems = append(st.Problems, fmt.Sprintf("certificate %s is %s: a board using it cannot connect (run provision again)", short(cs.ID), cs.Status))
			case !cs.Attached:
				st.Problems = append(st.Problems, fmt.Sprintf("certificate %s is not attached to the thing: thing policy variables will not resolve (run provision again)", short(cs.ID)))
			case len(cs.Policies) == 0:
				st.Problems = append(st.Problems, fmt.Sprintf("certificate %s has no policy: the board may connect to nothing (run provision again)", short(cs.ID)))
			case !cs.KeyOnBench:
				st.Problems = append(st.Problems, fmt.Sprintf("the key of certificate %s is not on this bench", short(cs.ID)))
			default:
				st.Ready = true
			}
		}
	}
	if rec == nil {
		st.Problems = append(st.Problems, "this bench has no ledger record of the thing (it was provisioned elsewhere or by hand)")
	} else if rec.CertificateARN == "" {
		st.Problems = append(st.Problems, "provisioning did not finish: run it again")
	}
	if rec != nil && (rec.Pending != nil || len(rec.Retired) > 0) {
		st.Problems = append(st.Problems, "an interrupted run left work to finish: run provision again")
	}
	return st, nil
}
