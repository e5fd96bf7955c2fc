package emulator

import "testing"

func FuzzParseRuleSQL(f *testing.F) {
	f.Add("SELECT *, topic(2) AS device, timestamp() AS ts FROM 'iotbench/+/telemetry'")
	f.Add("SELECT *, floor(timestamp() / 1000) + 60 AS e FROM 'a/#' WHERE x > 1")
	f.Add("select clientid() as c from '#'")
	f.Fuzz(func(t *testing.T, sql string) {
		r, err := parseRuleSQL(sql)
		if err != nil {
			return
		}
		if checkFilter(r.filter) != nil {
			t.Fatalf("accepted filter %q", r.filter)
		}
		filterMatches(r.filter, sql)
	})
}

func FuzzParseKeyCondition(f *testing.F) {
	f.Add("#d = :d AND #t BETWEEN :from AND :to")
	f.Add("device = :d and begins_with(ts, :p)")
	f.Add("a<=:x AND b>:y")
	f.Fuzz(func(t *testing.T, expr string) {
		conds, err := parseKeyCondition(expr)
		if err != nil {
			return
		}
		for _, c := range conds {
			if len(c.vals) == 0 {
				t.Fatalf("condition without values: %+v", c)
			}
			c.holds("N", "1")
		}
	})
}

func TestFilterMatches(t *testing.T) {
	for _, c := range []struct {
		f, topic string
		want     bool
	}{
		{"iotbench/+/telemetry", "iotbench/a/telemetry", true},
		{"iotbench/+/telemetry", "iotbench/a/b/telemetry", false},
		{"sensor/#", "sensor/", true},
		{"sensor/#", "sensor/x/y", true},
		{"sensor/#", "sensor", true}, // MQTT: # also matches the parent level
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
	} {
		if got := filterMatches(c.f, c.topic); got != c.want {
			t.Errorf("%s ~ %s = %v", c.f, c.topic, got)
		}
	}
}
