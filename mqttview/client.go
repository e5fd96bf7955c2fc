package mqttview

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotbench/iotbench/mqttview/topic"
)

// Config says where the viewer connects and how.
type Config struct {
	// Broker is a URL: mqtt:// (or tcp://), mqtts:// (or tls://, ssl://),
	// ws:// or wss://. The port defaults to 1883, 8883, 80 and 443.
	Broker string
	// ClientID defaults to iotbench-viewer-<random>: AWS IoT drops the
	// older of two connections with one client ID, so two viewers must
	// never share one.
	ClientID           string
	Username, Password string
	// TLS is used for mqtts and wss. ServerName defaults to the broker's
	// host (AWS IoT requires SNI with the endpoint name).
	TLS *tls.Config
	// Presign, for ws/wss, returns the URL to dial; it is called before
	// every attempt because a SigV4 URL embeds the time.
	Presign func(ctx context.Context) (string, error)
	// AWS applies AWS IoT Core's rules before sending: no '#' or $SYS
	// subscriptions, and the limits below.
	AWS bool
	// AWSLimits checks topics (256 bytes, 8 levels), payloads (128 KB) and
	// QoS (0 and 1) before publishing, as AWS IoT and the local cloud
	// enforce them by closing the connection. Implied by AWS.
	AWSLimits bool

	KeepAlive      time.Duration // default 30 s (AWS raises anything lower to 30 s)
	ConnectTimeout time.Duration // default 10 s
	MinBackoff     time.Duration // first reconnect delay, default 250 ms
	MaxBackoff     time.Duration // default 10 s

	Limits Limits
	// OnState and OnMessage are called from the viewer's goroutines and
	// must not block for long.
	OnState   func(State)
	OnMessage func(Message)
	Now       func() time.Time
}

// Status is the connection's state.
type Status string

const (
	StatusIdle         Status = "idle"
	StatusConnecting   Status = "connecting"
	StatusConnected    Status = "connected"
	StatusDisconnected Status = "disconnected"
	StatusClosed       Status = "closed"
)

// State is what a UI shows about the connection.
type State struct {
	Status  Status        `json:"state"`
	Broker  string        `json:"broker"`
	Attempt int           `json:"attempt,omitempty"`
	Since   time.Time     `json:"since"`
	Err     error         `json:"-"`
	Reason  string        `json:"reason,omitempty"`      // why it dropped or failed, in words
	RetryIn time.Duration `json:"retry_in_ns,omitempty"` // when disconnected: the next attempt's delay
}

// Viewer is one MQTT connection and the Store it fills.
type Viewer struct {
	cfg    Config
	broker *url.URL
	store  *Store

	mu      sync.Mutex
	client  paho.Client
	filters []string // subscribed (and re-subscribed after reconnects)
	state   State
	lost    chan struct{} // the current connection dropped
	lostErr error
	cancel  context.CancelFunc
	done    chan struct{}
	closed  bool
	lastErr error // the last dial/TLS error, more precise than paho's

	connectedAt time.Time     // when the current connection came up
	backoff     time.Duration // the delay that led to it
}

// New checks cfg and returns an idle viewer.
func New(cfg Config) (*Viewer, error) {
	u, err := parseBroker(cfg.Broker)
	if err != nil {
		return nil, err
	}
	if cfg.ClientID == "" {
		cfg.ClientID = RandomClientID("iotbench-viewer-")
	}
	if cfg.AWS && len(cfg.ClientID) > 128 {
		return nil, fmt.Errorf("client ID is %d bytes: AWS IoT allows 128", len(cfg.ClientID))
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 30 * time.Second
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(10*time.Second, cfg.MinBackoff)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &Viewer{cfg: cfg, broker: u, store: NewStore(cfg.Limits, cfg.Now), lost: make(chan struct{}, 1)}
	v.state = State{Status: StatusIdle, Broker: v.displayBroker(), Since: cfg.Now()}
	return v, nil
}

// RandomClientID returns prefix + 8 random hex digits.
func RandomClientID(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func parseBroker(s string) (*url.URL, error) {
	if s == "" {
		return nil, fmt.Errorf("no broker URL")
	}
	if !strings.Contains(s, "://") {
		s = "mqtt://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("broker URL %q: %v", s, err)
	}
	port := map[string]string{"mqtt": "1883", "tcp": "1883", "mqtts": "8883", "tls": "8883", "ssl": "8883", "ws": "80", "wss": "443"}[u.Scheme]
	if port == "" {
		return nil, fmt.Errorf("broker URL %q: scheme must be mqtt, mqtts, ws or wss", s)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("broker URL %q has no host", s)
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	if (u.Scheme == "ws" || u.Scheme == "wss") && u.Path == "" {
		u.Path = "/mqtt"
	}
	return u, nil
}

// displayBroker is the broker URL without credentials or a query string
// (a presigned URL's signature is a secret for its lifetime).
func (v *Viewer) displayBroker() string {
	u := *v.broker
	u.User = nil
	u.RawQuery = ""
	return u.String()
}

// Store returns what the viewer has received.
func (v *Viewer) Store() *Store { return v.store }

// ClientID returns the client ID in use.
func (v *Viewer) ClientID() string { return v.cfg.ClientID }

// State returns the connection's current state.
func (v *Viewer) State() State {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.state
}

func (v *Viewer) setState(s State) {
	s.Broker = v.displayBroker()
	s.Since = v.cfg.Now()
	if s.Err != nil && s.Reason == "" {
		s.Reason = Explain(s.Err)
	}
	v.mu.Lock()
	if v.closed && s.Status != StatusClosed {
		v.mu.Unlock()
		return
	}
	v.state = s
	v.mu.Unlock()
	if v.cfg.OnState != nil {
		v.cfg.OnState(s)
	}
}

// Connect makes the first connection and returns its error, if any (so a
// command line fails fast on a wrong host or CA); ctx bounds that first
// attempt only. Once connected, the viewer keeps reconnecting with backoff
// until Close.
func (v *Viewer) Connect(ctx context.Context) error {
	v.mu.Lock()
	if v.closed || v.done != nil {
		v.mu.Unlock()
		return fmt.Errorf("viewer already started")
	}
	runCtx, cancel := context.WithCancel(context.Background())
	v.cancel = cancel
	v.done = make(chan struct{})
	v.mu.Unlock()

	v.setState(State{Status: StatusConnecting, Attempt: 1})
	if err := v.attempt(ctx, runCtx); err != nil {
		v.setState(State{Status: StatusDisconnected, Attempt: 1, Err: err})
		cancel()
		close(v.done)
		return err
	}
	go v.supervise(runCtx)
	return nil
}

// supervise waits for the connection to drop and reconnects, doubling the
// delay (with jitter) up to MaxBackoff.
func (v *Viewer) supervise(ctx context.Context) {
	defer close(v.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-v.lost:
		}
		v.mu.Lock()
		stale := v.client != nil // a drop during an attempt that was retried
		reason := v.lostErr
		lived := v.cfg.Now().Sub(v.connectedAt)
		delay := v.backoff
		v.mu.Unlock()
		if stale {
			continue
		}
		if lived >= stableAfter {
			delay = 0
		} else {
			// A connection that drops at once (a second viewer with our
			// client ID, a policy that closes us) must not turn into a
			// reconnect storm: keep backing off.
			delay = v.nextDelay(delay)
		}
		for attempt := 1; ; attempt++ {
			v.setState(State{Status: StatusDisconnected, Attempt: attempt, Err: reason, RetryIn: delay})
			if !sleep(ctx, delay) {
				return
			}
			v.setState(State{Status: StatusConnecting, Attempt: attempt})
			err := v.attempt(ctx, ctx)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			reason = err
			delay = v.nextDelay(delay)
		}
		v.mu.Lock()
		v.backoff = delay
		v.mu.Unlock()
	}
}

// stableAfter is how long a connection must last for the backoff to start
// again from zero.
const stableAfter = 5 * time.Second

func (v *Viewer) nextDelay(d time.Duration) time.Duration {
	if d <= 0 {
		return jitter(v.cfg.MinBackoff)
	}
	return jitter(min(d*2, v.cfg.MaxBackoff))
}

func jitter(d time.Duration) time.Duration {
	return d - d/5 + time.Duration(mrand.Int64N(int64(d/5)*2+1))
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// attempt makes one connection with a fresh paho client (paho's own docs
// warn against reusing a client after Disconnect) and subscribes to every
// filter. dialCtx bounds the attempt; lifeCtx the connection.
func (v *Viewer) attempt(dialCtx, lifeCtx context.Context) error {
	o := paho.NewClientOptions()
	o.AddBroker(v.broker.String())
	o.SetClientID(v.cfg.ClientID)
	if v.cfg.Username != "" {
		o.SetUsername(v.cfg.Username)
		o.SetPassword(v.cfg.Password)
	}
	o.SetCleanSession(true)
	// Explicit 3.1.1: otherwise paho retries a refused CONNECT as MQTT 3.1,
	// a second connection AWS would count against the client ID.
	o.SetProtocolVersion(4)
	o.SetKeepAlive(v.cfg.KeepAlive)
	o.SetPingTimeout(min(v.cfg.KeepAlive, 10*time.Second))
	o.SetConnectTimeout(v.cfg.ConnectTimeout)
	o.SetWriteTimeout(v.cfg.ConnectTimeout)
	o.SetAutoReconnect(false)
	o.SetConnectRetry(false)
	o.SetOrderMatters(true)
	o.SetCustomOpenConnectionFn(func(*url.URL, paho.ClientOptions) (net.Conn, error) {
		c, err := v.open(dialCtx)
		if err != nil {
			v.mu.Lock()
			v.lastErr = err
			v.mu.Unlock()
		}
		return c, err
	})
	o.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { v.receive(m) })
	o.SetConnectionLostHandler(v.onLost)
	c := paho.NewClient(o)
	v.mu.Lock()
	v.lastErr = nil
	v.mu.Unlock()

	tok := c.Connect()
	select {
	case <-tok.Done():
	case <-dialCtx.Done():
		// paho bounds the attempt by ConnectTimeout; wait for it so no
		// goroutine outlives the viewer.
		<-tok.Done()
		if tok.Error() == nil {
			c.Disconnect(0)
		}
		return dialCtx.Err()
	}
	if err := tok.Error(); err != nil {
		return v.connectError(err)
	}
	v.mu.Lock()
	v.client = c
	v.mu.Unlock()
	// Subscribe until nothing is pending, then turn "connected" under the
	// same lock: a Subscribe racing with this either lands in a round
	// here or sees "connected" and subscribes itself.
	done := map[string]bool{}
	for {
		v.mu.Lock()
		var pending []string
		for _, f := range v.filters {
			if !done[f] {
				pending = append(pending, f)
			}
		}
		if len(pending) == 0 {
			if v.client != c || v.closed {
				v.mu.Unlock()
				c.Disconnect(0)
				return fmt.Errorf("connection lost while subscribing")
			}
			v.connectedAt = v.cfg.Now()
			v.state = State{Status: StatusConnected, Broker: v.displayBroker(), Since: v.connectedAt}
			v.mu.Unlock()
			break
		}
		v.mu.Unlock()
		if err := subscribe(lifeCtx, c, pending, v.cfg.ConnectTimeout); err != nil {
			v.mu.Lock()
			if v.client == c {
				v.client = nil
			}
			v.mu.Unlock()
			c.Disconnect(0)
			return err
		}
		for _, f := range pending {
			done[f] = true
		}
	}
	if v.cfg.OnState != nil {
		v.cfg.OnState(v.State())
	}
	return nil
}

// onLost is paho's connection-lost callback; only the current client's
// loss counts.
func (v *Viewer) onLost(c paho.Client, err error) {
	v.mu.Lock()
	if v.client != c {
		v.mu.Unlock()
		return
	}
	v.client = nil
	v.lostErr = err
	v.mu.Unlock()
	select {
	case v.lost <- struct{}{}:
	default:
	}
}

func (v *Viewer) receive(m paho.Message) {
	msg := Message{Topic: m.Topic(), Payload: m.Payload(), QoS: m.Qos(), Retained: m.Retained(), Time: v.cfg.Now()}
	v.store.Add(msg)
	if v.cfg.OnMessage != nil {
		v.cfg.OnMessage(msg)
	}
}

// subscribe sends filters in SUBSCRIBEs of at most 8 (AWS's limit) and
// checks each SUBACK code.
func subscribe(ctx context.Context, c paho.Client, filters []string, timeout time.Duration) error {
	for len(filters) > 0 {
		n := min(len(filters), topic.MaxFiltersPerSubscribe)
		batch := make(map[string]byte, n)
		for _, f := range filters[:n] {
			batch[f] = 0
		}
		filters = filters[n:]
		tok := c.SubscribeMultiple(batch, nil)
		if err := wait(ctx, tok, timeout); err != nil {
			return fmt.Errorf("subscribing: %w", err)
		}
		for f, code := range tok.(*paho.SubscribeToken).Result() {
			if code == 0x80 {
				return &SubscribeError{Filter: f}
			}
		}
	}
	return nil
}

// SubscribeError is a SUBACK that refused a filter.
type SubscribeError struct{ Filter string }

func (e *SubscribeError) Error() string {
	return fmt.Sprintf("the broker refused the subscription to %q (SUBACK 0x80): its policy does not allow iot:Subscribe on that filter", e.Filter)
}

func wait(ctx context.Context, tok paho.Token, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("no answer from the broker within %s (the connection may have been closed: on AWS IoT a policy denial closes it)", timeout)
	}
}

// Subscribe adds filters and subscribes now when connected; they are
// subscribed again after every reconnect.
func (v *Viewer) Subscribe(ctx context.Context, filters ...string) error {
	for _, f := range filters {
		var err error
		if v.cfg.AWS {
			err = topic.CheckAWSSubscribe(f)
		} else {
			err = topic.ValidFilter(f)
		}
		if err != nil {
			return &InputError{Msg: err.Error()}
		}
	}
	v.mu.Lock()
	var add []string
	for _, f := range filters {
		if !contains(v.filters, f) && !contains(add, f) {
			add = append(add, f)
		}
	}
	if v.cfg.AWS && len(v.filters)+len(add) > topic.MaxSubscriptions {
		v.mu.Unlock()
		return &InputError{Msg: fmt.Sprintf("%d subscriptions: AWS IoT allows %d per connection; use a wildcard such as iotbench/+/telemetry", len(v.filters)+len(add), topic.MaxSubscriptions)}
	}
	v.filters = append(v.filters, add...)
	c := v.client
	connected := v.state.Status == StatusConnected
	v.mu.Unlock()
	if c == nil || !connected || len(add) == 0 {
		return nil
	}
	return subscribe(ctx, c, add, v.cfg.ConnectTimeout)
}

// Filters returns the subscribed filters.
func (v *Viewer) Filters() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.filters...)
}

func contains(s []string, x string) bool {
	for _, e := range s {
		if e == x {
			return true
		}
	}
	return false
}

// InputError is a topic, payload or option the viewer refuses to send.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// Publish sends one message and waits until it is written (QoS 0) or
// acknowledged (QoS 1 and 2).
func (v *Viewer) Publish(ctx context.Context, name string, payload []byte, qos byte, retain bool) error {
	if err := topic.ValidName(name); err != nil {
		return &InputError{Msg: err.Error()}
	}
	if qos > 2 {
		return &InputError{Msg: fmt.Sprintf("QoS %d: MQTT has 0, 1 and 2", qos)}
	}
	if v.cfg.AWS || v.cfg.AWSLimits {
		if err := topic.CheckAWS(name); err != nil {
			return &InputError{Msg: err.Error()}
		}
		if len(payload) > topic.MaxPayload {
			return &InputError{Msg: fmt.Sprintf("payload is %d bytes: AWS IoT allows %d (128 KB)", len(payload), topic.MaxPayload)}
		}
		if qos == 2 {
			return &InputError{Msg: "AWS IoT supports QoS 0 and 1 only (a QoS 2 publish gets no acknowledgement)"}
		}
	}
	v.mu.Lock()
	c := v.client
	st := v.state
	v.mu.Unlock()
	if c == nil || st.Status != StatusConnected {
		return fmt.Errorf("not connected to %s (%s%s)", st.Broker, st.Status, suffix(st.Reason))
	}
	if err := wait(ctx, c.Publish(name, qos, retain, payload), v.cfg.ConnectTimeout); err != nil {
		pe := &PublishError{Topic: name, Err: err}
		if !c.IsConnectionOpen() {
			pe.Closed = true
			action := "iot:Publish"
			if retain {
				action += " (and iot:RetainPublish)"
			}
			pe.Hint = "the broker closed the connection: on AWS IoT and the local cloud, the policy does not allow " + action + " on this topic"
		}
		return pe
	}
	return nil
}

// PublishError is a publish that was not acknowledged.
type PublishError struct {
	Topic  string
	Err    error
	Closed bool // the broker closed the connection instead of answering
	Hint   string
}

func (e *PublishError) Error() string {
	s := fmt.Sprintf("publishing to %s: %v", e.Topic, e.Err)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

func (e *PublishError) Unwrap() error { return e.Err }

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

// ClearRetained deletes the retained message of a topic: an empty
// retained PUBLISH, which AWS IoT and every MQTT broker read as "delete".
func (v *Viewer) ClearRetained(ctx context.Context, name string) error {
	if err := v.Publish(ctx, name, nil, 1, true); err != nil {
		return err
	}
	v.store.Forget(name)
	return nil
}

// Close disconnects and stops reconnecting. It waits for the viewer's
// goroutines.
func (v *Viewer) Close() error {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return nil
	}
	v.closed = true
	cancel, done, c := v.cancel, v.done, v.client
	v.client = nil
	v.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	if c != nil && c.IsConnectionOpen() {
		c.Disconnect(100)
	}
	v.mu.Lock()
	v.state = State{Status: StatusClosed, Broker: v.displayBroker(), Since: v.cfg.Now()}
	v.mu.Unlock()
	if v.cfg.OnState != nil {
		v.cfg.OnState(v.State())
	}
	return nil
}

// connectError turns paho's error into one that says which stage failed.
func (v *Viewer) connectError(err error) error {
	v.mu.Lock()
	dialErr := v.lastErr
	v.mu.Unlock()
	ce := &ConnectError{Broker: v.displayBroker(), Err: err}
	var alert tls.AlertError
	switch {
	case dialErr != nil:
		var de *dialError
		if errors.As(dialErr, &de) {
			ce.Stage, ce.Err = de.stage, de.err
		} else {
			ce.Stage, ce.Err = "dial", dialErr
		}
	case errors.As(err, &alert), strings.Contains(err.Error(), "remote error: tls: "):
		// TLS 1.3 finishes the client's handshake before the server has
		// checked our certificate: its verdict arrives with CONNECT.
		ce.Stage = "tls"
	case strings.Contains(err.Error(), "not Authorized"), strings.Contains(err.Error(), "bad user name or password"):
		ce.Stage, ce.Refused = "mqtt", true
	case strings.Contains(err.Error(), "EOF"), strings.Contains(err.Error(), "connection reset"):
		ce.Stage, ce.Refused, ce.ClosedAfterConnect = "mqtt", true, true
	default:
		ce.Stage = "mqtt"
	}
	ce.Hint = hint(ce)
	return ce
}

// ConnectError is a failed connection, by stage: "dial" (TCP), "tls",
// "websocket" or "mqtt" (CONNECT refused or the connection closed).
type ConnectError struct {
	Broker             string
	Stage              string
	Err                error
	Refused            bool // the broker answered and said no
	ClosedAfterConnect bool // closed without CONNACK, as AWS IoT does for a denied iot:Connect
	Hint               string
}

func (e *ConnectError) Error() string {
	s := fmt.Sprintf("connecting to %s: %s: %v", e.Broker, e.Stage, e.Err)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

func (e *ConnectError) Unwrap() error { return e.Err }
