package provision

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/iotbench/iotbench/awsops/policy"
	"github.com/iotbench/iotbench/doctor"
	"github.com/iotbench/iotbench/localcloud"
	"github.com/iotbench/iotbench/mqttview"
)

// LocalCloud adapts the local cloud (its registry and a broker) to the
// pipeline. With Broker set (served by this process) wire Observe into its
// ServeOptions.OnEvent so the doctor can quote the broker's refusals;
// without one the broker is the one `iotbench cloud serve` runs.
type LocalCloud struct {
	Cloud  *localcloud.Cloud
	Broker *localcloud.Broker
	// Endpoint overrides the host and port written into config.json (the
	// broker's advertised ones by default).
	Endpoint string
	Port     int

	mu     sync.Mutex
	events []localcloud.Event
}

// NewLocalCloud adapts c and its running broker b.
func NewLocalCloud(c *localcloud.Cloud, b *localcloud.Broker) *LocalCloud {
	return &LocalCloud{Cloud: c, Broker: b}
}

// Observe records a broker decision (ServeOptions.OnEvent).
func (l *LocalCloud) Observe(e localcloud.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	if len(l.events) > 1000 {
		l.events = append([]localcloud.Event(nil), l.events[500:]...)
	}
}

func (l *LocalCloud) Kind() string { return "local" }

func (l *LocalCloud) EnsureIdentity(ctx context.Context, req IdentityRequest, note func(string)) (*Identity, error) {
	kt := req.KeyType
	id, err := l.Cloud.Provision(ctx, localcloud.ProvisionRequest{Thing: req.Thing, MAC: req.MAC, Chip: req.Chip, KeyType: kt})
	if err != nil {
		return nil, err
	}
	host, port := l.endpoint()
	if id.Reused {
		note("thing " + id.Thing + " and its ACTIVE certificate already exist")
	} else {
		note("issued certificate " + id.CertificateID + " for thing " + id.Thing + " (policy " + id.PolicyName + ")")
	}
	return &Identity{Thing: id.Thing, CertificateID: id.CertificateID, PolicyName: id.PolicyName, Endpoint: host, Port: port,
		CertDER: id.CertDER(), KeyDER: id.KeyDER(), CADER: id.CADER(), Reused: id.Reused}, nil
}

// Watch subscribes with the local cloud's viewer identity.
func (l *LocalCloud) Watch(ctx context.Context, topic string) (<-chan Message, error) {
	tc, err := l.Cloud.ViewerTLS(ctx)
	if err != nil {
		return nil, err
	}
	addr, err := l.localAddr()
	if err != nil {
		return nil, err
	}
	tc.ServerName = "localhost"
	return watch(ctx, mqttview.Config{Broker: "mqtts://" + addr, TLS: tc}, topic)
}

// endpoint is what boards are told to connect to.
func (l *LocalCloud) endpoint() (string, int) {
	var host string
	var port int
	if l.Broker != nil {
		host, port = l.Broker.Endpoint()
	} else {
		host, port = l.Cloud.Endpoint()
	}
	if l.Endpoint != "" {
		host = l.Endpoint
	}
	if l.Port != 0 {
		port = l.Port
	}
	return host, port
}

// localAddr is where this machine reaches the broker.
func (l *LocalCloud) localAddr() (string, error) {
	if l.Broker == nil {
		return l.Cloud.LocalAddress()
	}
	a, ok := l.Broker.Addr().(*net.TCPAddr)
	if !ok {
		return "", fmt.Errorf("broker address %v", l.Broker.Addr())
	}
	host := "127.0.0.1"
	if !a.IP.IsUnspecified() {
		host = a.IP.String()
	}
	return net.JoinHostPort(host, strconv.Itoa(a.Port)), nil
}

// watch connects a viewer, subscribes and forwards messages on topic until
// ctx ends. It returns once the subscription is in place.
func watch(ctx context.Context, cfg mqttview.Config, topic string) (<-chan Message, error) {
	ch := make(chan Message, 64)
	var mu sync.Mutex
	closed := false
	cfg.OnMessage = func(m mqttview.Message) {
		mu.Lock()
		defer mu.Unlock()
		if closed || m.Topic != topic {
			return
		}
		select {
		case ch <- Message{Topic: m.Topic, Payload: m.Payload, Retained: m.Retained, At: m.Time}:
		default: // the pipeline reads the first one; later ones may drop
		}
	}
	v, err := mqttview.New(cfg)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := v.Connect(cctx); err != nil {
		v.Close()
		return nil, err
	}
	if err := v.Subscribe(cctx, topic); err != nil {
		v.Close()
		return nil, err
	}
	go func() {
		<-ctx.Done()
		v.Close()
		mu.Lock()
		closed = true
		close(ch)
		mu.Unlock()
	}()
	return ch, nil
}

// Facts asks the registry and the policy evaluator what the broker would
// decide for this identity, and quotes the broker's refusals.
func (l *LocalCloud) Facts(ctx context.Context, q FactsQuery) *doctor.CloudFacts {
	f := &doctor.CloudFacts{Cloud: "local", Thing: q.Thing, ClientID: q.ClientID, Topic: q.Topic, CertID: q.CertificateID}
	st, err := l.Cloud.Status(ctx, q.Thing)
	if err != nil {
		f.Errors = append(f.Errors, "local cloud registry: "+err.Error())
		return f
	}
	f.ThingChecked, f.ThingExists = true, st.Exists
	f.CertChecked = true
	for _, c := range st.Certificates {
		if c.ID == q.CertificateID {
			f.CertFound, f.CertStatus = true, c.Status
			f.CertAttached = true // the local registry issues certificates to a thing
			f.PolicyChecked, f.Policies = true, c.Policies
		}
	}
	if f.CertFound && f.CertStatus == localcloud.StatusActive {
		if d, err := l.Cloud.Decide(q.CertificateID, q.ClientID, policy.ActionConnect, localcloud.Scope.ClientARN(q.ClientID)); err == nil {
			f.Connect = &doctor.Decision{Allowed: d.Allowed, Reason: d.Reason}
		}
		if d, err := l.Cloud.Decide(q.CertificateID, q.ClientID, policy.ActionPublish, localcloud.Scope.TopicARN(q.Topic)); err == nil {
			f.Publish = &doctor.Decision{Allowed: d.Allowed, Reason: d.Reason}
		}
	}
	if host, _ := l.endpoint(); q.Endpoint != "" {
		f.EndpointChecked, f.Endpoint, f.WantEndpoint, f.EndpointKind = true, q.Endpoint, host, "local"
	}

	l.mu.Lock()
	for _, e := range l.events {
		if (e.ClientID == q.ClientID || e.Thing == q.Thing) && (e.Kind == "refused" || e.Kind == "denied" || e.Kind == "tls-refused") {
			f.Refusals = append(f.Refusals, fmt.Sprintf("%s %s %s: %s", e.Kind, e.Action, e.Resource, e.Reason))
		}
	}
	l.mu.Unlock()
	if len(f.Refusals) > 5 {
		f.Refusals = f.Refusals[len(f.Refusals)-5:]
	}
	return f
}
