package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/iotbench/iotbench/awsops/policy"
	"github.com/iotbench/iotbench/localcloud"
	"github.com/iotbench/iotbench/mqttview"
	"github.com/iotbench/iotbench/provision"
	"github.com/iotbench/iotbench/tui"
)

// tuiClouds gives the TUI's Provision and Topics views their clouds,
// opened only when first used (a TUI that only monitors never touches the
// local cloud's directory or AWS): the local cloud, whose broker is the
// running `iotbench cloud serve` or one this process serves while the TUI
// runs, and AWS IoT for the profile and region typed in the wizard.
type tuiClouds struct {
	a          *app
	dir        string // local cloud directory ("" = the default)
	brokerAddr string

	mu     sync.Mutex
	cloud  *localcloud.Cloud
	lc     *provision.LocalCloud
	broker *localcloud.Broker
	aws    map[tui.CloudParams]*provision.AWSCloud
	closes []func()
}

func (a *app) newTUIClouds(dir string) *tuiClouds {
	return &tuiClouds{a: a, dir: dir, brokerAddr: "0.0.0.0:8883", aws: map[tui.CloudParams]*provision.AWSCloud{}}
}

// local opens the local cloud and makes sure a broker runs for it.
func (t *tuiClouds) local() (*provision.LocalCloud, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.lc != nil {
		return t.lc, nil
	}
	c, err := t.a.openLocalCloud(t.dir)
	if err != nil {
		return nil, err
	}
	if addr, err := c.LocalAddress(); err == nil && brokerRunning(addr) {
		t.cloud, t.lc = c, provision.NewLocalCloud(c, nil)
		return t.lc, nil
	}
	lc := &provision.LocalCloud{Cloud: c}
	b, err := c.Serve(localcloud.ServeOptions{Addr: t.brokerAddr, OnEvent: lc.Observe})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("no local cloud broker is running and starting one failed: %w (run iotbench cloud serve in another terminal)", err)
	}
	lc.Broker = b
	t.cloud, t.lc, t.broker = c, lc, b
	return lc, nil
}

// viewer is the Topics view's connection to the local cloud's broker.
func (t *tuiClouds) viewer(ctx context.Context) (mqttview.Config, error) {
	lc, err := t.local()
	if err != nil {
		return mqttview.Config{}, err
	}
	addr, err := localViewerAddr(lc)
	if err != nil {
		return mqttview.Config{}, err
	}
	tc, err := lc.Cloud.ViewerTLS(ctx)
	if err != nil {
		return mqttview.Config{}, err
	}
	// The broker's certificate names localhost (and its advertised host).
	tc.ServerName = "localhost"
	return mqttview.Config{Broker: "mqtts://" + addr, TLS: tc}, nil
}

// localViewerAddr is where this machine reaches the local cloud's broker.
func localViewerAddr(lc *provision.LocalCloud) (string, error) {
	if lc.Broker == nil {
		return lc.Cloud.LocalAddress()
	}
	a, ok := lc.Broker.Addr().(*net.TCPAddr)
	if !ok {
		return "", fmt.Errorf("broker address %v", lc.Broker.Addr())
	}
	host := "127.0.0.1"
	if !a.IP.IsUnspecified() {
		host = a.IP.String()
	}
	return net.JoinHostPort(host, strconv.Itoa(a.Port)), nil
}

// awsCloud is AWS IoT for a profile and region (one client each).
func (t *tuiClouds) awsCloud(ctx context.Context, p tui.CloudParams) (provision.Cloud, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.aws[p]; c != nil {
		return c, nil
	}
	client, done, err := t.a.awsClient(ctx, &awsFlags{profile: p.Profile, region: p.Region})
	if err != nil {
		return nil, err
	}
	t.closes = append(t.closes, done)
	c := provision.NewAWSCloud(client, client.Credentials())
	t.aws[p] = c
	return c, nil
}

func (t *tuiClouds) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.broker != nil {
		t.broker.Close()
	}
	if t.cloud != nil {
		t.cloud.Close()
	}
	for _, f := range t.closes {
		f()
	}
}

// provisionConfig is the wizard's setup for `iotbench tui`: the local
// cloud first, AWS IoT second; pipeline options from the global flags.
func (t *tuiClouds) provisionConfig(o provision.Options, d tui.WizardDefaults) *tui.ProvisionConfig {
	return &tui.ProvisionConfig{
		Options:  o,
		Defaults: d,
		Clouds: []tui.ProvisionCloud{
			{Kind: "local", Label: "local cloud (iotbench's own broker, no account needed)", Scope: localcloud.Scope,
				Open: func(ctx context.Context, _ tui.CloudParams) (provision.Cloud, error) { return t.local() }},
			{Kind: "aws", Label: "AWS IoT Core (your AWS profile and region)", Scope: policy.Scope{Region: "<region>", Account: "<account>"},
				Open: t.awsCloud},
		},
	}
}
