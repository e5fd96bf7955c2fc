// Package topicstest gives the Topics view's tests a source without a
// broker: a real mqttview.Store fed by the test at the times it chooses,
// a connection state the test sets, and a record of what the view asked
// to publish or clear. It satisfies topics.Source.
package topicstest

import (
	"context"
	"sync"
	"time"

	"github.com/iotbench/iotbench/mqttview"
)

// Sent is one publish (or clear) the view asked for.
type Sent struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
	Clear   bool
}

// Source is a store and a connection state.
type Source struct {
	store *mqttview.Store
	wake  func()

	mu    sync.Mutex
	state mqttview.State
	sent  []Sent
	err   error
	close int
}

// Broker is the URL the source claims to be connected to.
const Broker = "mqtt://127.0.0.1:1883"

// New returns a connected source whose store reads now (nil: time.Now).
func New(now func() time.Time, l mqttview.Limits) *Source {
	if now == nil {
		now = time.Now
	}
	return &Source{store: mqttview.NewStore(l, now), wake: func() {},
		state: mqttview.State{Status: mqttview.StatusConnected, Broker: Broker, Since: now()}}
}

// Open is a topics.Config.Open that hands out s.
func (s *Source) Open(_ context.Context, wake func()) (*Source, error) {
	s.mu.Lock()
	s.wake = wake
	s.mu.Unlock()
	return s, nil
}

// Add stores a message as if the broker had delivered it, and wakes the view.
func (s *Source) Add(topic string, at time.Time, payload string, retained bool) {
	s.store.Add(mqttview.Message{Topic: topic, Payload: []byte(payload), QoS: 1, Retained: retained, Time: at})
	s.mu.Lock()
	w := s.wake
	s.mu.Unlock()
	w()
}

// SetState changes the connection's state.
func (s *Source) SetState(st mqttview.State) {
	s.mu.Lock()
	st.Broker = Broker
	s.state = st
	w := s.wake
	s.mu.Unlock()
	w()
}

// FailWith makes the next publishes fail with err (nil: succeed).
func (s *Source) FailWith(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// Sent returns what the view published, in order.
func (s *Source) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sent(nil), s.sent...)
}

// Closed counts Close calls.
func (s *Source) Closed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.close
}

// State is the connection's state.
func (s *Source) State() mqttview.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Store is the store the test feeds.
func (s *Source) Store() *mqttview.Store { return s.store }

// ClientID names the fake client.
func (s *Source) ClientID() string { return "iotbench-viewer-test" }

// Publish records the publish; like the viewer, it stores nothing (the
// broker's echo would).
func (s *Source) Publish(_ context.Context, topic string, payload []byte, qos byte, retain bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.sent = append(s.sent, Sent{Topic: topic, Payload: payload, QoS: qos, Retain: retain})
	return nil
}

// ClearRetained records an empty retained publish and forgets the topic,
// as the viewer does.
func (s *Source) ClearRetained(_ context.Context, topic string) error {
	s.mu.Lock()
	if s.err != nil {
		defer s.mu.Unlock()
		return s.err
	}
	s.sent = append(s.sent, Sent{Topic: topic, QoS: 1, Retain: true, Clear: true})
	s.mu.Unlock()
	s.store.Forget(topic)
	return nil
}

// Close counts the call.
func (s *Source) Close() error {
	s.mu.Lock()
	s.close++
	s.mu.Unlock()
	return nil
}
