package mqttview

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/iotbench/iotbench/mqttview/topic"
)

// exportLine is one message in the JSON-lines export. Text payloads are
// kept as text so the file stays greppable; anything else is base64.
type exportLine struct {
	Time          time.Time `json:"time"`
	Topic         string    `json:"topic"`
	QoS           byte      `json:"qos"`
	Retained      bool      `json:"retained,omitempty"`
	Payload       *string   `json:"payload,omitempty"`
	PayloadBase64 *string   `json:"payload_base64,omitempty"`
}

// MarshalExport renders one message as an export line (no newline).
func MarshalExport(m Message) ([]byte, error) {
	l := exportLine{Time: m.Time.UTC(), Topic: m.Topic, QoS: m.QoS, Retained: m.Retained}
	if utf8.Valid(m.Payload) {
		s := string(m.Payload)
		l.Payload = &s
	} else {
		s := base64.StdEncoding.EncodeToString(m.Payload)
		l.PayloadBase64 = &s
	}
	return json.Marshal(l)
}

// ParseExport reads one export line back. It is strict: this is outside
// input (a file someone edited, or another tool's output).
func ParseExport(line []byte) (Message, error) {
	var l exportLine
	if err := json.Unmarshal(line, &l); err != nil {
		return Message{}, fmt.Errorf("not an export line: %w", err)
	}
	if err := topic.ValidName(l.Topic); err != nil {
		return Message{}, err
	}
	if l.QoS > 2 {
		return Message{}, fmt.Errorf("qos %d is not 0, 1 or 2", l.QoS)
	}
	if l.Time.IsZero() {
		return Message{}, fmt.Errorf("no time")
	}
	m := Message{Topic: l.Topic, QoS: l.QoS, Retained: l.Retained, Time: l.Time}
	switch {
	case l.Payload != nil && l.PayloadBase64 != nil:
		return Message{}, fmt.Errorf("both payload and payload_base64")
	case l.Payload != nil:
		m.Payload = []byte(*l.Payload)
	case l.PayloadBase64 != nil:
		b, err := base64.StdEncoding.DecodeString(*l.PayloadBase64)
		if err != nil {
			return Message{}, fmt.Errorf("payload_base64: %w", err)
		}
		m.Payload = b
	}
	return m, nil
}

// WriteExport writes messages as JSON lines.
func WriteExport(w io.Writer, msgs []Message) error {
	bw := bufio.NewWriter(w)
	for _, m := range msgs {
		b, err := MarshalExport(m)
		if err != nil {
			return err
		}
		bw.Write(b)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// ReadExport parses JSON lines, calling fn for each message; blank lines
// are skipped and errors name the line.
func ReadExport(r io.Reader, fn func(Message) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*topic.MaxPayload)
	n := 0
	for sc.Scan() {
		n++
		if len(sc.Bytes()) == 0 {
			continue
		}
		m, err := ParseExport(sc.Bytes())
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return sc.Err()
}

// Export writes every kept message received at or after since, in time
// order, as JSON lines.
func (s *Store) Export(w io.Writer, since time.Time) error {
	var all []Message
	for _, st := range s.Topics() {
		for _, m := range s.History(st.Topic) {
			if !m.Time.Before(since) {
				all = append(all, m)
			}
		}
	}
	sortByTime(all)
	return WriteExport(w, all)
}

func sortByTime(ms []Message) {
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Time.Before(ms[j].Time) })
}
