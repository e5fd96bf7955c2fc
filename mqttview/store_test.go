package mqttview

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestClassifyAndFormat(t *testing.T) {
	cases := []struct {
		in   []byte
		kind PayloadKind
		one  string
	}{
		{nil, KindEmpty, "(empty)"},
		{[]byte(`{"a": 1, "b": [1,2]}`), KindJSON, `{"a":1,"b":[1,2]}`},
		{[]byte("hello\nworld"), KindText, `hello\nworld`},
		{[]byte{0xff, 0x00, 0x10}, KindBinary, "hex:ff 00 10"},
		{[]byte("ok\x00"), KindBinary, "hex:6f 6b 00"},
		{[]byte("\x1b[2J"), KindBinary, "hex:1b 5b 32 4a"},
	}
	for _, c := range cases {
		if k := Classify(c.in); k != c.kind {
			t.Errorf("Classify(%q) = %s, want %s", c.in, k, c.kind)
		}
		if s := FormatPayload(c.in, true, 0); s != c.one {
			t.Errorf("FormatPayload(%q) = %q, want %q", c.in, s, c.one)
		}
	}
	if s := FormatPayload([]byte(`{"a":1}`), false, 0); s != "{\n  \"a\": 1\n}" {
		t.Errorf("pretty: %q", s)
	}
	big := bytes.Repeat([]byte{0xfe}, 128*1024)
	if s := FormatPayload(big, true, 300); !strings.HasSuffix(s, "(131072 bytes)") || len(s) > 330 {
		t.Errorf("cut binary: %d %q", len(s), s[len(s)-30:])
	}
	if s := FormatPayload([]byte(strings.Repeat("é", 100)), true, 51); !strings.HasSuffix(s, "(200 bytes)") || !strings.HasPrefix(s, "éé") {
		t.Errorf("cut text at a rune: %q", s)
	}
}

func TestNumbersAndDiff(t *testing.T) {
	nums, err := Numbers([]byte(`{"env":{"t":21.5,"rh":"40"},"ok":true,"name":"x","r":[1,{"v":2}],"big":1e999}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"env.t": 21.5, "env.rh": 40, "ok": 1, "r[0]": 1, "r[1].v": 2}
	if len(nums) != len(want) {
		t.Fatalf("got %v", nums)
	}
	for k, v := range want {
		if nums[k] != v {
			t.Errorf("%s = %v, want %v", k, nums[k], v)
		}
	}
	if n, _ := Numbers([]byte(`3.5`)); n[""] != 3.5 {
		t.Errorf("bare number: %v", n)
	}
	if _, err := Numbers([]byte("not json")); err == nil {
		t.Error("text flattened")
	}
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	if _, err := Numbers([]byte(deep)); err == nil {
		t.Error("100 levels of nesting accepted")
	}

	d := Diff([]byte(`{"a":1,"b":2,"c":{"d":true}}`), []byte(`{"a":1,"b":3,"e":"x"}`))
	got := fmt.Sprint(d)
	if got != "[{b changed 2 3} {c.d removed true <nil>} {e added <nil> x}]" {
		t.Errorf("diff: %s", got)
	}
	if d := Diff([]byte("a"), []byte("b")); len(d) != 1 || d[0].Op != "changed" {
		t.Errorf("text diff: %v", d)
	}
	if d := Diff([]byte{1}, []byte{1}); d != nil {
		t.Errorf("equal binary diff: %v", d)
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestStoreOneMessageHasNoRate(t *testing.T) {
	clk := &fakeClock{time.Unix(1_800_000_000, 0)}
	s := NewStore(Limits{History: 5, HistoryBytes: 100, Topics: 3}, clk.now)
	s.Add(Message{Topic: "once", Payload: []byte("1")})
	clk.t = clk.t.Add(300 * time.Millisecond)
	if st, _ := s.Topic("once"); st.Rate != 0 {
		t.Errorf("rate of a topic with one message: %v, want 0", st.Rate)
	}
	s.Add(Message{Topic: "once", Payload: []byte("2")})
	if st, _ := s.Topic("once"); st.Rate == 0 {
		t.Errorf("rate of a topic with two messages is 0")
	}
}

func TestStoreHistoryIsBounded(t *testing.T) {
	clk := &fakeClock{time.Unix(1_800_000_000, 0)}
	s := NewStore(Limits{History: 5, HistoryBytes: 100, Topics: 3}, clk.now)
	for i := 0; i < 20; i++ {
		s.Add(Message{Topic: "a/b", Payload: []byte(fmt.Sprintf(`{"i":%d}`, i))})
		clk.t = clk.t.Add(100 * time.Millisecond)
	}
	h := s.History("a/b")
	if len(h) != 5 || string(h[0].Payload) != `{"i":15}` || string(h[4].Payload) != `{"i":19}` {
		t.Fatalf("history: %d, first %s", len(h), h[0].Payload)
	}
	st, _ := s.Topic("a/b")
	if st.Count != 20 || st.Kept != 5 || string(st.Payload) != `{"i":19}` {
		t.Fatalf("stats: %+v", st)
	}
	// 20 messages over 2 s: 10 per second.
	if math.Abs(st.Rate-10) > 0.01 {
		t.Errorf("rate %v, want 10", st.Rate)
	}
	clk.t = clk.t.Add(20 * time.Second)
	if st, _ := s.Topic("a/b"); st.Rate != 0 {
		t.Errorf("rate after 20 s of silence: %v", st.Rate)
	}

	// The byte budget drops old messages but keeps the newest.
	s.Add(Message{Topic: "big", Payload: bytes.Repeat([]byte("x"), 60)})
	s.Add(Message{Topic: "big", Payload: bytes.Repeat([]byte("y"), 60)})
	if h := s.History("big"); len(h) != 1 || h[0].Payload[0] != 'y' {
		t.Fatalf("byte budget: %d messages", len(h))
	}
	s.Add(Message{Topic: "huge", Payload: bytes.Repeat([]byte("z"), 1000)})
	if h := s.History("huge"); len(h) != 1 {
		t.Fatal("the newest message must be kept whatever its size")
	}
	// A fourth topic is past Limits.Topics: counted, not kept.
	s.Add(Message{Topic: "c", Payload: []byte("1")})
	if tot := s.Totals(); tot.Topics != 3 || tot.Dropped != 1 || tot.Messages != 24 {
		t.Fatalf("totals %+v", tot)
	}
}

func TestTreeSeriesDiff(t *testing.T) {
	s := NewStore(Limits{}, nil)
	base := time.Unix(1_800_000_000, 0)
	for i, p := range []string{`{"t":20,"rh":40}`, `{"t":21,"rh":41}`, `{"t":22}`} {
		s.Add(Message{Topic: "iotbench/d1/telemetry", Payload: []byte(p), Time: base.Add(time.Duration(i) * time.Second)})
	}
	s.Add(Message{Topic: "iotbench/d1/status", Payload: []byte("online"), Retained: true})
	s.Add(Message{Topic: "iotbench/d2/telemetry", Payload: []byte(`{}`)})
	s.Add(Message{Topic: "iotbench", Payload: []byte(`x`)})
	tr := s.Tree()
	if tr.Count != 6 || tr.Topics != 4 || len(tr.Children) != 1 {
		t.Fatalf("root %+v", tr)
	}
	ib := tr.Children[0]
	if ib.Name != "iotbench" || ib.Stats == nil || ib.Count != 6 || len(ib.Children) != 2 || ib.Children[0].Name != "d1" || ib.Children[0].Count != 4 {
		t.Fatalf("iotbench node %+v", ib)
	}
	status := ib.Children[0].Children[0]
	if status.Path != "iotbench/d1/status" || !status.Stats.Retained {
		t.Fatalf("status node %+v", status)
	}
	ser := s.Series("iotbench/d1/telemetry")
	if len(ser["t"]) != 3 || ser["t"][2].Value != 22 || len(ser["rh"]) != 2 {
		t.Fatalf("series %v", ser)
	}
	if d := s.LastDiff("iotbench/d1/telemetry"); len(d) != 2 {
		t.Fatalf("last diff %v", d)
	}
}

func TestExportRoundTrip(t *testing.T) {
	s := NewStore(Limits{}, nil)
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	msgs := []Message{
		{Topic: "a", Payload: []byte(`{"v":1}`), QoS: 1, Time: base},
		{Topic: "b", Payload: []byte{0xff, 0, 1}, Retained: true, Time: base.Add(time.Second)},
		{Topic: "a", Payload: nil, Time: base.Add(2 * time.Second)},
	}
	for _, m := range msgs {
		s.Add(m)
	}
	var buf bytes.Buffer
	if err := s.Export(&buf, base.Add(500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"payload_base64":"/wAB"`) || strings.Count(buf.String(), "\n") != 2 {
		t.Fatalf("export:\n%s", buf.String())
	}
	var back []Message
	if err := ReadExport(&buf, func(m Message) error { back = append(back, m); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(back) != 2 || !bytes.Equal(back[0].Payload, []byte{0xff, 0, 1}) || !back[0].Retained || back[1].Topic != "a" || !back[1].Time.Equal(base.Add(2*time.Second)) {
		t.Fatalf("read back %+v", back)
	}
	for _, bad := range []string{`{"time":"2026-01-01T00:00:00Z","topic":"a/+"}`, `{"topic":"a"}`, `{"time":"2026-01-01T00:00:00Z","topic":"a","qos":3}`, `{"time":"2026-01-01T00:00:00Z","topic":"a","payload":"x","payload_base64":"eA=="}`, `[]`} {
		if err := ReadExport(strings.NewReader(bad), func(Message) error { return nil }); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func FuzzNumbers(f *testing.F) {
	for _, s := range []string{`{"a":{"b":[1,2,{"c":3}]}}`, `1e400`, `"12"`, `[true,null]`, `{"a":1}{"b":2}`, `{"":{"":1}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		nums, err := Numbers(p)
		if err != nil {
			return
		}
		for k, v := range nums {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("%s = %v", k, v)
			}
		}
		leaves, _ := Leaves(p)
		if len(leaves) > maxLeaves {
			t.Fatalf("%d leaves", len(leaves))
		}
		_ = Diff(p, p)
		if d := Diff(p, p); len(d) != 0 {
			t.Fatalf("a payload differs from itself: %v", d)
		}
		_ = FormatPayload(p, true, 80)
		_ = FormatPayload(p, false, 0)
	})
}

func FuzzParseExport(f *testing.F) {
	f.Add([]byte(`{"time":"2026-11-25T10:00:00Z","topic":"a/b","qos":1,"retained":true,"payload":"x"}`))
	f.Add([]byte(`{"time":"2026-11-25T10:00:00Z","topic":"a","qos":0,"payload_base64":"/wAB"}`))
	f.Add([]byte(`{"time":"bad","topic":"a"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := ParseExport(line)
		if err != nil {
			return
		}
		// What parses must survive a round trip unchanged.
		b, err := MarshalExport(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := ParseExport(b)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", b, err)
		}
		if m2.Topic != m.Topic || !bytes.Equal(m2.Payload, m.Payload) || m2.QoS != m.QoS || m2.Retained != m.Retained || !m2.Time.Equal(m.Time) {
			t.Fatalf("round trip changed %+v into %+v", m, m2)
		}
	})
}
