package mqttview

import (
	"sort"
	"strings"
	"sync"
	"time"
)

// Message is one PUBLISH as the viewer received it.
type Message struct {
	Topic    string    `json:"topic"`
	Payload  []byte    `json:"-"`
	QoS      byte      `json:"qos"`
	Retained bool      `json:"retained"`
	Time     time.Time `json:"time"`
}

// Limits bound what the store keeps, so a flood cannot exhaust memory.
type Limits struct {
	// History is how many messages each topic keeps (default 100).
	History int
	// HistoryBytes caps the payload bytes one topic keeps (default 1 MiB);
	// the newest message is always kept whatever its size.
	HistoryBytes int
	// Topics caps how many distinct topics are tracked (default 100,000);
	// messages on further topics are only counted in Stats.Dropped.
	Topics int
}

func (l Limits) withDefaults() Limits {
	if l.History <= 0 {
		l.History = 100
	}
	if l.HistoryBytes <= 0 {
		l.HistoryBytes = 1 << 20
	}
	if l.Topics <= 0 {
		l.Topics = 100_000
	}
	return l
}

// rateWindow is how far back a topic's rate looks, in one-second buckets.
const rateWindow = 10

// topicState is one topic's counters and history ring.
type topicState struct {
	name     string
	count    uint64
	bytes    uint64
	first    time.Time
	last     time.Time
	retained bool // the last message was a retained one

	ring      []Message // circular, len ≤ Limits.History
	start     int       // index of the oldest message in ring
	ringBytes int

	buckets  [rateWindow]uint32
	bucketAt int64 // unix second of buckets[bucketAt%rateWindow]
}

// Store is the viewer's memory: a topic tree with per-topic counters,
// rates and a bounded history. It is safe for concurrent use; the client
// adds to it from paho's goroutine while a UI reads snapshots.
type Store struct {
	limits Limits
	now    func() time.Time

	mu      sync.Mutex
	topics  map[string]*topicState
	total   uint64
	dropped uint64
	since   time.Time
}

// NewStore returns an empty store. now may be nil (time.Now).
func NewStore(l Limits, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{limits: l.withDefaults(), now: now, topics: make(map[string]*topicState), since: now()}
}

// Add records m (its Time is set from the store's clock when zero).
func (s *Store) Add(m Message) {
	if m.Time.IsZero() {
		m.Time = s.now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	t := s.topics[m.Topic]
	if t == nil {
		if len(s.topics) >= s.limits.Topics {
			s.dropped++
			return
		}
		t = &topicState{name: m.Topic, first: m.Time}
		s.topics[m.Topic] = t
	}
	t.count++
	t.bytes += uint64(len(m.Payload))
	t.last = m.Time
	t.retained = m.Retained
	t.tick(m.Time.Unix())
	t.push(m, s.limits)
}

func (t *topicState) tick(sec int64) {
	t.advance(sec)
	t.buckets[sec%rateWindow]++
}

// advance clears the buckets of seconds that passed without messages.
func (t *topicState) advance(sec int64) {
	if sec <= t.bucketAt {
		return
	}
	gap := sec - t.bucketAt
	if gap >= rateWindow || t.bucketAt == 0 {
		t.buckets = [rateWindow]uint32{}
	} else {
		for s := t.bucketAt + 1; s <= sec; s++ {
			t.buckets[s%rateWindow] = 0
		}
	}
	t.bucketAt = sec
}

func (t *topicState) rate(now time.Time) float64 {
	// One message is an event, not a rate: reporting 1/s for it (the old
	// behaviour during a topic's first second) told users a retained
	// status topic was streaming.
	if t.count < 2 {
		return 0
	}
	sec := now.Unix()
	if sec-t.bucketAt >= rateWindow {
		return 0
	}
	lo := max(sec, t.bucketAt) - rateWindow + 1
	var n uint32
	for s := lo; s <= min(sec, t.bucketAt); s++ {
		n += t.buckets[s%rateWindow]
	}
	span := float64(rateWindow)
	if age := now.Sub(t.first).Seconds(); age < span {
		span = max(age, 1)
	}
	return float64(n) / span
}

func (t *topicState) push(m Message, l Limits) {
	if len(t.ring) < l.History {
		t.ring = append(t.ring, m)
	} else {
		t.ringBytes -= len(t.ring[t.start].Payload)
		t.ring[t.start] = m
		t.start = (t.start + 1) % len(t.ring)
	}
	t.ringBytes += len(m.Payload)
	for t.ringBytes > l.HistoryBytes && t.len() > 1 {
		t.dropOldest()
	}
}

func (t *topicState) len() int { return len(t.ring) }

func (t *topicState) dropOldest() {
	old := t.history()[1:]
	t.ring = append(t.ring[:0:0], old...)
	t.start = 0
	t.ringBytes = 0
	for _, m := range t.ring {
		t.ringBytes += len(m.Payload)
	}
}

// history returns the ring oldest first (a copy).
func (t *topicState) history() []Message {
	out := make([]Message, 0, len(t.ring))
	out = append(out, t.ring[t.start:]...)
	out = append(out, t.ring[:t.start]...)
	return out
}

func (t *topicState) lastMessage() (Message, bool) {
	if len(t.ring) == 0 {
		return Message{}, false
	}
	i := t.start - 1
	if i < 0 {
		i = len(t.ring) - 1
	}
	return t.ring[i], true
}

// TopicStats is one topic's line in the tree.
type TopicStats struct {
	Topic    string    `json:"topic"`
	Count    uint64    `json:"count"`
	Bytes    uint64    `json:"bytes"`
	Rate     float64   `json:"rate"` // messages per second over the last 10 s; 0 until the second message
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
	Retained bool      `json:"retained"`
	Payload  []byte    `json:"-"` // the last payload
	Kept     int       `json:"kept"`
}

func (t *topicState) stats(now time.Time) TopicStats {
	st := TopicStats{Topic: t.name, Count: t.count, Bytes: t.bytes, Rate: t.rate(now), First: t.first, Last: t.last, Retained: t.retained, Kept: len(t.ring)}
	if m, ok := t.lastMessage(); ok {
		st.Payload = m.Payload
	}
	return st
}

// Topic returns one topic's stats.
func (s *Store) Topic(name string) (TopicStats, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[name]
	if t == nil {
		return TopicStats{}, false
	}
	return t.stats(s.now()), true
}

// Topics returns every topic's stats, sorted by name.
func (s *Store) Topics() []TopicStats {
	s.mu.Lock()
	now := s.now()
	out := make([]TopicStats, 0, len(s.topics))
	for _, t := range s.topics {
		out = append(out, t.stats(now))
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out
}

// History returns what the store kept of topic, oldest first.
func (s *Store) History(topic string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[topic]
	if t == nil {
		return nil
	}
	return t.history()
}

// Totals counts everything the store saw.
type Totals struct {
	Messages uint64 `json:"messages"`
	Topics   int    `json:"topics"`
	Dropped  uint64 `json:"dropped"` // messages on topics past Limits.Topics
}

// Totals returns the store-wide counters.
func (s *Store) Totals() Totals {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Totals{Messages: s.total, Topics: len(s.topics), Dropped: s.dropped}
}

// Forget drops a topic (after its retained message was cleared, say).
func (s *Store) Forget(topic string) {
	s.mu.Lock()
	delete(s.topics, topic)
	s.mu.Unlock()
}

// Node is one level of the topic tree. A node has Stats when messages
// arrived on exactly its path; Count adds up the whole subtree.
type Node struct {
	Name     string      `json:"name"` // this level
	Path     string      `json:"path"` // the topic up to here
	Stats    *TopicStats `json:"stats,omitempty"`
	Count    uint64      `json:"count"`
	Topics   int         `json:"topics"`
	Children []*Node     `json:"children,omitempty"`
}

// Tree builds the topic tree from a snapshot of the store.
func (s *Store) Tree() *Node {
	root := &Node{}
	index := map[string]*Node{"": root}
	for _, st := range s.Topics() {
		st := st
		n := root
		path := ""
		for i, level := range strings.Split(st.Topic, "/") {
			if i == 0 {
				path = level
			} else {
				path += "/" + level
			}
			c := index[path]
			if c == nil {
				c = &Node{Name: level, Path: path}
				index[path] = c
				n.Children = append(n.Children, c)
			}
			c.Count += st.Count
			c.Topics++
			n = c
		}
		n.Stats = &st
		root.Count += st.Count
		root.Topics++
	}
	var sortRec func(n *Node)
	sortRec = func(n *Node) {
		sort.Slice(n.Children, func(i, j int) bool { return n.Children[i].Name < n.Children[j].Name })
		for _, c := range n.Children {
			sortRec(c)
		}
	}
	sortRec(root)
	return root
}

// Point is one sample of a numeric series.
type Point struct {
	Time  time.Time `json:"time"`
	Value float64   `json:"value"`
}

// Series flattens the numeric fields of a topic's kept history into named
// series for charts, oldest point first.
func (s *Store) Series(topic string) map[string][]Point {
	out := make(map[string][]Point)
	for _, m := range s.History(topic) {
		nums, err := Numbers(m.Payload)
		if err != nil {
			continue
		}
		for k, v := range nums {
			out[k] = append(out[k], Point{Time: m.Time, Value: v})
		}
	}
	return out
}

// LastDiff compares the last two payloads kept for topic.
func (s *Store) LastDiff(topic string) []Change {
	h := s.History(topic)
	if len(h) < 2 {
		return nil
	}
	return Diff(h[len(h)-2].Payload, h[len(h)-1].Payload)
}
