package main

import (
	"errors"

	"github.com/iotbench/iotbench/awsops"
	"github.com/iotbench/iotbench/awsops/policy"
	"github.com/iotbench/iotbench/localcloud"
	"github.com/iotbench/iotbench/mqttview"
)

// Exit codes of the cloud-side command groups (aws, cloud, mqtt): bad
// input is 6, the cloud failing or refusing is 7, a policy check that
// says "would be refused" is 8 (README "Exit codes").
func init() {
	exitClassifiers = append(exitClassifiers, func(err error) (int, bool) {
		var (
			aIn    *awsops.InputError
			mal    *policy.MalformedError
			mIn    *mqttview.InputError
			lIn    *localcloud.InputError
			lNF    *localcloud.NotFoundError
			cfg    *awsops.ConfigError
			ad     *awsops.AccessDeniedError
			thr    *awsops.ThrottledError
			svc    *awsops.ServiceError
			nf     *awsops.NotFoundError
			km     *awsops.KeyMismatchError
			con    *mqttview.ConnectError
			pub    *mqttview.PublishError
			sub    *mqttview.SubscribeError
			denied *awsops.DeniedError
		)
		switch {
		case errors.As(err, &denied):
			return exitNotVerified, true
		case errors.As(err, &aIn), errors.As(err, &mal), errors.As(err, &mIn), errors.As(err, &lIn), errors.As(err, &lNF):
			return exitInput, true
		case errors.As(err, &cfg), errors.As(err, &ad), errors.As(err, &thr), errors.As(err, &svc), errors.As(err, &nf), errors.As(err, &km),
			errors.As(err, &con), errors.As(err, &pub), errors.As(err, &sub):
			return exitCloud, true
		}
		return 0, false
	})
}
