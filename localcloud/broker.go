package localcloud

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotbench/iotbench/awsops/policy"
	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/mqttview/topic"
)

// ServeOptions configures the broker.
type ServeOptions struct {
	// Addr to listen on; default 0.0.0.0:8883 (boards on the LAN must
	// reach it). Tests use 127.0.0.1:0.
	Addr string
	// Advertise is the host boards are told to connect to; default this
	// host's first LAN IPv4 address (or its name).
	Advertise string
	// Logger gets one line per connection decision, with the reason.
	Logger *slog.Logger
	// OnEvent gets the same decisions as typed events.
	OnEvent func(Event)
	// RevokeCheck is how often the registry is re-read to disconnect
	// certificates that left ACTIVE (default 2 s).
	RevokeCheck time.Duration
}

// Event is one thing the broker decided or saw.
type Event struct {
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"` // connected, refused, disconnected, denied, tls-refused, stored
	ClientID string    `json:"client_id,omitempty"`
	Thing    string    `json:"thing,omitempty"`
	Remote   string    `json:"remote,omitempty"`
	Action   string    `json:"action,omitempty"`
	Resource string    `json:"resource,omitempty"`
	Reason   string    `json:"reason,omitempty"`
}

// Broker is the running local cloud: an MQTT broker on mutual TLS that
// admits clients by certificate and checks every CONNECT, PUBLISH,
// SUBSCRIBE and delivery against the certificate's policies with the AWS
// IoT policy evaluator (awsops/policy), and stores telemetry.
type Broker struct {
	cloud  *Cloud
	opts   ServeOptions
	server *mqtt.Server
	ln     *tlsListener
	log    *slog.Logger
	host   string
	port   int

	mu       sync.Mutex
	sessions map[string]*session // by client ID
	docs     map[string]*policy.Document

	stop     chan struct{}
	loopDone chan struct{}
	closed   atomic.Bool
}

// session is what was decided at CONNECT, for the checks that follow.
type session struct {
	client *mqtt.Client
	ctx    policy.Context
	certID string
	docs   []*policy.Document
}

// Serve starts the broker. It returns once the port is bound.
func (c *Cloud) Serve(opts ServeOptions) (*Broker, error) {
	if opts.Addr == "" {
		opts.Addr = net.JoinHostPort("0.0.0.0", strconv.Itoa(DefaultPort))
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.RevokeCheck <= 0 {
		opts.RevokeCheck = 2 * time.Second
	}
	certPEM, keyPEM, err := c.ca.serverCert(filepath.Join(c.dir, "server"))
	if err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}
	serverCert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	b := &Broker{cloud: c, opts: opts, log: opts.Logger, sessions: map[string]*session{}, docs: map[string]*policy.Document{}, stop: make(chan struct{}), loopDone: make(chan struct{})}
	tc := &tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    c.ca.Pool(),
		MinVersion:   tls.VersionTLS12,
		// AWS IoT offers the ALPN protocol on 443; accepting it here lets a
		// client configured for AWS port 443 talk to the local cloud too.
		NextProtos: []string{"x-amzn-mqtt-ca", "mqtt"},
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumQos = 1 // AWS IoT: QoS 0 and 1 only
	caps.MaximumPacketSize = uint32(topic.MaxPayload + topic.MaxBytes + 1024)
	caps.SharedSubAvailable = 0
	b.server = mqtt.New(&mqtt.Options{
		Capabilities: caps,
		InlineClient: true,
		// mochi logs every client error at warn level; our decisions are
		// logged by the hook with their reasons.
		Logger:                 slog.New(slog.NewTextHandler(io.Discard, nil)),
		SysTopicResendInterval: 3600,
	})
	if err := b.server.AddHook(&authHook{b: b}, nil); err != nil {
		return nil, err
	}
	b.ln = &tlsListener{id: "mtls", addr: opts.Addr, cfg: tc, onFail: b.tlsRefused}
	if err := b.server.AddListener(b.ln); err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("listening on %s: %w (another cloud serve, or a broker such as mosquitto, holds the port: stop it or use --addr)", opts.Addr, err)
		}
		return nil, fmt.Errorf("listening on %s: %w", opts.Addr, err)
	}
	if err := b.server.Serve(); err != nil {
		b.ln.Close(func(string) {})
		return nil, err
	}
	b.port = b.ln.listen.Addr().(*net.TCPAddr).Port
	b.host = opts.Advertise
	if b.host == "" {
		if h, _, _ := net.SplitHostPort(opts.Addr); h != "" && h != "0.0.0.0" && h != "::" {
			b.host = h
		} else {
			b.host = advertiseHost()
		}
	}
	ep, _ := json.MarshalIndent(endpointFile{Address: b.ln.listen.Addr().String(), Host: b.host, Port: b.port, PID: os.Getpid()}, "", "  ")
	if err := writeFileAtomic(filepath.Join(c.dir, "endpoint.json"), ep, 0o644); err != nil {
		b.Close()
		return nil, err
	}
	go b.revokeLoop()
	return b, nil
}

// Addr is the bound address.
func (b *Broker) Addr() net.Addr { return b.ln.listen.Addr() }

// Endpoint is the host and port boards use.
func (b *Broker) Endpoint() (string, int) { return b.host, b.port }

// Close stops the broker and waits for its goroutines.
func (b *Broker) Close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(b.stop)
	<-b.loopDone
	return b.server.Close()
}

// advertiseHost is the first non-loopback IPv4 address of an interface
// that is up, else the host name.
func advertiseHost() string {
	ifs, _ := net.Interfaces()
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLinkLocalUnicast() {
				return n.IP.String()
			}
		}
	}
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "127.0.0.1"
}

func (b *Broker) emit(e Event, level slog.Level) {
	e.Time = time.Now()
	attrs := []any{"kind", e.Kind}
	for _, kv := range [][2]string{{"client_id", e.ClientID}, {"thing", e.Thing}, {"remote", e.Remote}, {"action", e.Action}, {"resource", e.Resource}, {"reason", e.Reason}} {
		if kv[1] != "" {
			attrs = append(attrs, kv[0], kv[1])
		}
	}
	b.log.Log(context.Background(), level, "localcloud "+e.Kind, attrs...)
	if b.opts.OnEvent != nil {
		b.opts.OnEvent(e)
	}
}

func (b *Broker) tlsRefused(remote string, err error) {
	reason := err.Error()
	var ce x509.CertificateInvalidError
	var ue x509.UnknownAuthorityError
	switch {
	case errors.As(err, &ue):
		reason = "client certificate not issued by this local cloud's CA: " + reason
	case errors.As(err, &ce) && ce.Reason == x509.Expired:
		reason = "client certificate expired or not yet valid: " + reason
	}
	b.emit(Event{Kind: "tls-refused", Remote: remote, Reason: reason}, slog.LevelWarn)
}

// policyDocs parses (and caches by content) the named policies.
func (b *Broker) policyDocs(r *registry, names []string) ([]*policy.Document, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*policy.Document
	for _, n := range names {
		text, ok := r.Policies[n]
		if !ok {
			continue // detached or deleted: it grants nothing
		}
		key := n + "\x00" + text
		d := b.docs[key]
		if d == nil {
			var err error
			d, err = policy.Parse([]byte(text))
			if err != nil {
				return nil, fmt.Errorf("policy %s: %w", n, err)
			}
			d.Name = n
			if len(b.docs) > 1024 {
				clear(b.docs)
			}
			b.docs[key] = d
		}
		out = append(out, d)
	}
	return out, nil
}

// authorizeConnect decides a CONNECT from the client certificate and the
// client ID, as AWS IoT does: the certificate must be registered and
// ACTIVE; thing variables resolve only when the client ID is the name of
// the thing the certificate is attached to.
func (b *Broker) authorizeConnect(cl *mqtt.Client) (*session, string) {
	tc, ok := cl.Net.Conn.(*tls.Conn)
	if !ok {
		return nil, "not a TLS connection"
	}
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, "no client certificate"
	}
	leaf := certs[0]
	r, _, err := b.cloud.reg.load()
	if err != nil {
		return nil, "registry unreadable: " + err.Error()
	}
	id := CertificateID(leaf.Raw)
	cr := r.Certificates[id]
	if cr == nil {
		return nil, fmt.Sprintf("certificate %s (CN %q) is not registered with the local cloud: the thing was deprovisioned or the certificate replaced", id[:12], leaf.Subject.CommonName)
	}
	if cr.Status != StatusActive {
		return nil, fmt.Sprintf("certificate %s of thing %q is %s", id[:12], cr.Thing, cr.Status)
	}
	pctx := contextFor(r, cr, cl.ID)
	pctx.Vars = map[string]string{"iot:Certificate.Subject.CommonName": leaf.Subject.CommonName}
	if host, _, err := net.SplitHostPort(cl.Net.Remote); err == nil {
		pctx.SourceIP = host
	}
	docs, err := b.policyDocs(r, cr.Policies)
	if err != nil {
		return nil, err.Error()
	}
	s := &session{client: cl, ctx: pctx, certID: id, docs: docs}
	d := policy.Evaluate(docs, policy.Request{Action: policy.ActionConnect, Resource: Scope.ClientARN(cl.ID), Context: pctx})
	if !d.Allowed {
		reason := d.Reason
		if cr.Thing != "" && cr.Thing != cl.ID {
			reason += fmt.Sprintf(" (the certificate belongs to thing %q; connect with client ID %q)", cr.Thing, cr.Thing)
		}
		return nil, reason
	}
	return s, ""
}

// contextFor is the policy context of a connection with certificate cr
// and clientID: thing variables resolve only when the client ID is the
// name of the thing the certificate is attached to, as on AWS IoT.
func contextFor(r *registry, cr *certRecord, clientID string) policy.Context {
	pctx := policy.Context{Scope: Scope, ClientID: clientID, CertificateID: cr.ID}
	if cr.Thing != "" && cr.Thing == clientID && r.Things[cr.Thing] != nil {
		pctx.ThingName = cr.Thing
	}
	return pctx
}

// Decide answers what the broker would for a certificate, client ID,
// action and resource (an ARN from Scope), without a connection: the
// doctor's "does the policy allow it?" for the local cloud.
func (c *Cloud) Decide(certID, clientID, action, resource string) (policy.Decision, error) {
	r, _, err := c.reg.load()
	if err != nil {
		return policy.Decision{}, err
	}
	cr := r.Certificates[certID]
	if cr == nil {
		return policy.Decision{Reason: "certificate " + certID + " is not registered with the local cloud"}, nil
	}
	if cr.Status != StatusActive {
		return policy.Decision{Reason: "certificate " + certID + " is " + cr.Status}, nil
	}
	var docs []*policy.Document
	for _, n := range cr.Policies {
		if text, ok := r.Policies[n]; ok {
			d, err := policy.Parse([]byte(text))
			if err != nil {
				return policy.Decision{}, fmt.Errorf("policy %s: %w", n, err)
			}
			d.Name = n
			docs = append(docs, d)
		}
	}
	return policy.Evaluate(docs, policy.Request{Action: action, Resource: resource, Context: contextFor(r, cr, clientID)}), nil
}

func (b *Broker) thingOf(s *session) string {
	if s.ctx.ThingName != "" {
		return s.ctx.ThingName
	}
	r, _, err := b.cloud.reg.load()
	if err == nil {
		if cr := r.Certificates[s.certID]; cr != nil {
			return cr.Thing
		}
	}
	return ""
}

func (b *Broker) session(cl *mqtt.Client) *session {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.sessions[cl.ID]
	if s == nil || s.client != cl {
		return nil
	}
	return s
}

func (b *Broker) allowed(s *session, action, resource string) policy.Decision {
	return policy.Evaluate(s.docs, policy.Request{Action: action, Resource: resource, Context: s.ctx})
}

// revokeLoop disconnects clients whose certificate left ACTIVE or whose
// policies changed so that they may no longer connect.
func (b *Broker) revokeLoop() {
	defer close(b.loopDone)
	t := time.NewTicker(b.opts.RevokeCheck)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		r, changed, err := b.cloud.reg.load()
		if err != nil || !changed {
			continue
		}
		b.mu.Lock()
		var drop []*session
		for _, s := range b.sessions {
			cr := r.Certificates[s.certID]
			if cr == nil || cr.Status != StatusActive {
				drop = append(drop, s)
			}
		}
		b.mu.Unlock()
		for _, s := range drop {
			b.emit(Event{Kind: "disconnected", ClientID: s.client.ID, Thing: b.thingOf(s), Remote: s.client.Net.Remote, Reason: "certificate no longer ACTIVE"}, slog.LevelWarn)
			s.client.Stop(errors.New("certificate no longer active"))
		}
	}
}

// authHook is where the broker asks the policy evaluator.
type authHook struct {
	mqtt.HookBase
	b *Broker
}

func (h *authHook) ID() string { return "iotbench-policy" }

func (h *authHook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnSessionEstablished,
		mqtt.OnPacketRead, mqtt.OnSelectSubscribers, mqtt.OnDisconnect, mqtt.OnPublished,
	}, []byte{b})
}

// OnConnect refuses a CONNECT the policy denies the way AWS IoT is
// reported to in the field (device-side.md §3.5): the connection is
// closed without a CONNACK, which a board sees as a timeout (PubSubClient
// state -4). aws-iot.md §5.3 quotes the guide as answering "code 7"; that
// is no MQTT 3.1.1 return code (they stop at 5) and reads like MQTT 5's
// 0x87 "not authorized", so MQTT 5 clients get CONNACK 0x87 first.
func (h *authHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	b := h.b
	if len(cl.ID) > 128 {
		b.emit(Event{Kind: "refused", ClientID: cl.ID[:32] + "…", Remote: cl.Net.Remote, Action: policy.ActionConnect, Reason: "client ID longer than 128 bytes (AWS IoT's limit)"}, slog.LevelWarn)
		return packets.ErrClientIdentifierNotValid
	}
	s, reason := b.authorizeConnect(cl)
	if s == nil {
		b.emit(Event{Kind: "refused", ClientID: cl.ID, Remote: cl.Net.Remote, Action: policy.ActionConnect, Resource: Scope.ClientARN(cl.ID), Reason: reason}, slog.LevelWarn)
		if cl.Properties.ProtocolVersion == 5 {
			b.server.SendConnack(cl, packets.ErrNotAuthorized, false, nil)
		}
		return packets.ErrNotAuthorized
	}
	b.mu.Lock()
	old := b.sessions[cl.ID]
	b.sessions[cl.ID] = s
	b.mu.Unlock()
	if old != nil && old.client != cl {
		// AWS IoT keeps one connection per client ID: the newer wins.
		b.emit(Event{Kind: "disconnected", ClientID: cl.ID, Thing: b.thingOf(old), Remote: old.client.Net.Remote, Reason: "another connection with the same client ID"}, slog.LevelWarn)
	}
	return nil
}

func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	return h.b.session(cl) != nil
}

// OnACLCheck allows what OnPacketRead already checked (mochi would
// otherwise drop a denied QoS 0 publish silently, where AWS disconnects).
func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool { return true }

func (h *authHook) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	b := h.b
	s := b.session(cl)
	if s == nil {
		return
	}
	b.emit(Event{Kind: "connected", ClientID: cl.ID, Thing: b.thingOf(s), Remote: cl.Net.Remote}, slog.LevelInfo)
	b.presence(cl, "connected", "")
}

// presence publishes an AWS IoT lifecycle event (aws-iot.md §5.3).
func (b *Broker) presence(cl *mqtt.Client, kind, reason string) {
	if b.closed.Load() {
		return
	}
	ev := map[string]any{"clientId": cl.ID, "timestamp": time.Now().UnixMilli(), "eventType": kind, "sessionIdentifier": cl.ID + "-" + strconv.FormatInt(time.Now().UnixNano(), 36), "principalIdentifier": "local", "versionNumber": 0}
	if kind == "connected" {
		ip := cl.Net.Remote
		if h, _, err := net.SplitHostPort(ip); err == nil {
			ip = h
		}
		ev["ipAddress"] = ip
	} else {
		ev["disconnectReason"] = reason
		ev["clientInitiatedDisconnect"] = reason == "CLIENT_INITIATED_DISCONNECT"
	}
	p, _ := json.Marshal(ev)
	b.server.Publish("$aws/events/presence/"+kind+"/"+cl.ID, p, false, 0)
}

// OnPacketRead checks PUBLISH and SUBSCRIBE before mochi acts on them. A
// denial closes the connection, as AWS IoT does (device-side.md §3.5:
// "the broker disconnects the client when it publishes/subscribes there").
func (h *authHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	b := h.b
	switch pk.FixedHeader.Type {
	case packets.Publish, packets.Subscribe:
	default:
		return pk, nil
	}
	s := b.session(cl)
	if s == nil {
		return pk, packets.ErrRejectPacket
	}
	deny := func(action, resource, reason string) (packets.Packet, error) {
		b.emit(Event{Kind: "denied", ClientID: cl.ID, Thing: b.thingOf(s), Remote: cl.Net.Remote, Action: action, Resource: resource, Reason: reason}, slog.LevelWarn)
		if cl.Properties.ProtocolVersion == 5 {
			b.server.DisconnectClient(cl, packets.ErrNotAuthorized)
		}
		return pk, packets.ErrRejectPacket
	}
	if pk.FixedHeader.Type == packets.Publish {
		name := pk.TopicName
		res := Scope.TopicARN(name)
		if err := topic.CheckAWS(name); err != nil {
			return deny(policy.ActionPublish, res, err.Error())
		}
		if len(pk.Payload) > topic.MaxPayload {
			return deny(policy.ActionPublish, res, fmt.Sprintf("payload of %d bytes: AWS IoT allows %d", len(pk.Payload), topic.MaxPayload))
		}
		if d := b.allowed(s, policy.ActionPublish, res); !d.Allowed {
			return deny(policy.ActionPublish, res, d.Reason)
		}
		if pk.FixedHeader.Retain {
			if d := b.allowed(s, policy.ActionRetainPublish, res); !d.Allowed {
				return deny(policy.ActionRetainPublish, res, d.Reason)
			}
		}
		return pk, nil
	}
	for _, f := range pk.Filters {
		res := Scope.TopicFilterARN(f.Filter)
		if err := topic.CheckAWS(f.Filter); err != nil {
			return deny(policy.ActionSubscribe, res, err.Error())
		}
		if d := b.allowed(s, policy.ActionSubscribe, res); !d.Allowed {
			return deny(policy.ActionSubscribe, res, d.Reason)
		}
	}
	return pk, nil
}

// OnSelectSubscribers drops deliveries the receiver's policy does not
// allow (iot:Receive is checked per message on the topic name, so a
// revoked Receive takes effect on live subscriptions).
func (h *authHook) OnSelectSubscribers(subs *mqtt.Subscribers, pk packets.Packet) *mqtt.Subscribers {
	b := h.b
	res := Scope.TopicARN(pk.TopicName)
	for id := range subs.Subscriptions {
		b.mu.Lock()
		s := b.sessions[id]
		b.mu.Unlock()
		if s == nil || !b.allowed(s, policy.ActionReceive, res).Allowed {
			delete(subs.Subscriptions, id)
		}
	}
	return subs
}

func (h *authHook) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	b := h.b
	b.mu.Lock()
	s := b.sessions[cl.ID]
	if s != nil && s.client == cl {
		delete(b.sessions, cl.ID)
	} else {
		s = nil
	}
	b.mu.Unlock()
	if s == nil {
		return
	}
	// AWS IoT's disconnectReason values (lifecycle events), with our words
	// for the log.
	reason, words := "CLIENT_INITIATED_DISCONNECT", "client disconnected"
	switch {
	case err == nil:
	case errors.Is(err, packets.ErrRejectPacket), errors.Is(err, packets.ErrNotAuthorized):
		reason, words = "AUTHORIZATION_FAILURE", "closed after a request its policy denies"
	case errors.Is(err, packets.ErrSessionTakenOver):
		reason, words = "DUPLICATE_CLIENTID", "another connection with the same client ID"
	case errors.Is(err, packets.ErrServerShuttingDown):
		reason, words = "SERVER_INITIATED_DISCONNECT", "the local cloud is stopping"
	case errors.Is(err, io.EOF):
		reason, words = "CONNECTION_LOST", "connection lost"
	default:
		reason, words = "SERVER_INITIATED_DISCONNECT", err.Error()
	}
	b.emit(Event{Kind: "disconnected", ClientID: cl.ID, Thing: b.thingOf(s), Remote: cl.Net.Remote, Reason: words}, slog.LevelInfo)
	b.presence(cl, "disconnected", reason)
}

// OnPublished is the telemetry rule: messages on iotbench/+/telemetry
// whose payload is a JSON object are stored with device = topic(2) and
// ts = receive time, as the AWS rule stores them in DynamoDB. A payload
// that is not a JSON object is logged and skipped, as the DynamoDBv2
// action would fail on it.
func (h *authHook) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	if cl.Net.Inline || !topic.Match(firmware.TelemetryFilter, pk.TopicName) {
		return
	}
	b := h.b
	device := topic.Level(pk.TopicName, firmware.ThingLevel)
	p := bytes.TrimSpace(pk.Payload)
	if len(p) == 0 || p[0] != '{' || !json.Valid(p) {
		b.emit(Event{Kind: "not-stored", ClientID: cl.ID, Thing: device, Resource: pk.TopicName, Reason: "telemetry payload is not a JSON object (the DynamoDB rule would fail on it too)"}, slog.LevelWarn)
		return
	}
	rec := Record{Device: device, TS: time.Now().UnixMilli(), Topic: pk.TopicName, Payload: append(json.RawMessage(nil), p...)}
	if err := b.cloud.telemetry.Append(rec); err != nil {
		b.emit(Event{Kind: "not-stored", ClientID: cl.ID, Thing: device, Resource: pk.TopicName, Reason: err.Error()}, slog.LevelWarn)
	}
}

// tlsListener is a mochi listener that does the TLS handshake itself, so
// that a refused certificate (another CA, expired) is logged with its
// reason instead of vanishing into a read error.
type tlsListener struct {
	id, addr string
	cfg      *tls.Config
	onFail   func(remote string, err error)

	listen net.Listener
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	mu    sync.Mutex
	conns map[net.Conn]struct{} // open connections, closed on Close
}

func (l *tlsListener) ID() string       { return l.id }
func (l *tlsListener) Protocol() string { return "mqtts" }
func (l *tlsListener) Address() string {
	if l.listen != nil {
		return l.listen.Addr().String()
	}
	return l.addr
}

func (l *tlsListener) Init(*slog.Logger) error {
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return err
	}
	l.listen = ln
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.conns = map[net.Conn]struct{}{}
	return nil
}

func (l *tlsListener) Serve(establish listeners.EstablishFn) {
	for {
		conn, err := l.listen.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		if l.ctx.Err() != nil {
			l.mu.Unlock()
			conn.Close()
			return
		}
		l.conns[conn] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		go func() {
			defer l.wg.Done()
			defer func() {
				l.mu.Lock()
				delete(l.conns, conn)
				l.mu.Unlock()
				conn.Close()
			}()
			tc := tls.Server(conn, l.cfg)
			hctx, cancel := context.WithTimeout(l.ctx, 10*time.Second)
			err := tc.HandshakeContext(hctx)
			cancel()
			if err != nil {
				if l.ctx.Err() == nil {
					l.onFail(conn.RemoteAddr().String(), err)
				}
				conn.Close()
				return
			}
			establish(l.id, tc)
		}()
	}
}

// Close ends every connection itself instead of calling closeClients:
// mochi v2.7.9's closeListenerClients takes the clients' read lock twice
// (GetByListener calls Len), and a client disconnecting at that moment
// (its write lock waiting in between) deadlocks the server for good
// (mochi-mqtt/server issue #488, fix #489 unmerged; seen here as a 10 min
// test timeout). Every live connection is in l.conns until its
// EstablishFn returns, so closing them ends each client's session the way
// a dropped network does; clients here speak MQTT 3.1.1, which has no
// server DISCONNECT to miss.
func (l *tlsListener) Close(listeners.CloseFn) {
	l.once.Do(func() {
		if l.cancel != nil {
			l.cancel()
		}
		if l.listen != nil {
			l.listen.Close()
		}
		l.mu.Lock()
		for c := range l.conns {
			c.Close()
		}
		l.mu.Unlock()
		l.wg.Wait()
	})
}
