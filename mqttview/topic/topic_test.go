package topic

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	cases := []struct {
		filter, name string
		want         bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/+/c", "a/b/c", true},
		{"a/#", "a", true},
		{"a/#", "a/", true},
		{"a/#", "a/b/c", true},
		{"a/#", "ab", false},
		{"#", "a/b", true},
		{"#", "$SYS/x", false},
		{"+/x", "$aws/x", false},
		{"$aws/events/presence/+/+", "$aws/events/presence/connected/dev1", true},
		{"+", "", true},
		{"+/+", "/", true},
		{"/+", "/a", true},
		{"a/+", "a/", true},
		{"a", "a/b", false},
		{"a/b", "a", false},
		{"iotbench/+/telemetry", "iotbench/dev-1/telemetry", true},
		{"iotbench/+/telemetry", "iotbench/dev-1/status", false},
	}
	for _, c := range cases {
		if got := Match(c.filter, c.name); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.filter, c.name, got, c.want)
		}
		if got := refMatch(c.filter, c.name); got != c.want {
			t.Errorf("refMatch(%q, %q) = %v, want %v", c.filter, c.name, got, c.want)
		}
	}
}

func TestValid(t *testing.T) {
	for _, f := range []string{"a/+/b", "#", "+", "a/#", "/", "+/+"} {
		if err := ValidFilter(f); err != nil {
			t.Errorf("ValidFilter(%q) = %v", f, err)
		}
	}
	for _, f := range []string{"", "a/#/b", "a+", "a/b#", "#a"} {
		if ValidFilter(f) == nil {
			t.Errorf("ValidFilter(%q) = nil, want an error", f)
		}
	}
	for _, n := range []string{"a", "a/b", "/", "$aws/x"} {
		if err := ValidName(n); err != nil {
			t.Errorf("ValidName(%q) = %v", n, err)
		}
	}
	for _, n := range []string{"", "a/+", "#", "a\x00b", "\xff"} {
		if ValidName(n) == nil {
			t.Errorf("ValidName(%q) = nil", n)
		}
	}
}

func TestAWSLimits(t *testing.T) {
	at := "iotbench/" + strings.Repeat("x", MaxBytes-len("iotbench/"))
	if len(at) != MaxBytes || CheckAWS(at) != nil {
		t.Fatalf("a %d-byte topic must pass: %v", len(at), CheckAWS(at))
	}
	if CheckAWS(at+"y") == nil {
		t.Fatal("a 257-byte topic must fail")
	}
	if err := CheckAWS("1/2/3/4/5/6/7/8"); err != nil {
		t.Fatal(err)
	}
	if CheckAWS("1/2/3/4/5/6/7/8/9") == nil {
		t.Fatal("9 levels must fail")
	}
	if err := CheckAWS("$aws/rules/r/1/2/3/4/5/6/7/8"); err != nil {
		t.Fatalf("the Basic Ingest prefix does not count: %v", err)
	}
	for _, f := range []string{"#", "$SYS/#", "+/#"} {
		if CheckAWSSubscribe(f) == nil {
			t.Errorf("CheckAWSSubscribe(%q) = nil", f)
		}
	}
	if err := CheckAWSSubscribe("iotbench/#"); err != nil {
		t.Error(err)
	}
	if Level("iotbench/dev/telemetry", 2) != "dev" || Level("a", 2) != "" || Level("a/b", 0) != "" {
		t.Error("Level")
	}
}

// refMatch is the spec's definition, level by level, written differently
// from Match on purpose.
func refMatch(filter, name string) bool {
	if strings.HasPrefix(name, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	f := strings.Split(filter, "/")
	n := strings.Split(name, "/")
	for i := range f {
		if f[i] == "#" {
			return true
		}
		if i >= len(n) {
			return false
		}
		if f[i] != "+" && f[i] != n[i] {
			return false
		}
	}
	return len(f) == len(n)
}

func FuzzMatch(f *testing.F) {
	for _, s := range [][2]string{{"a/+/c", "a/b/c"}, {"#", "x"}, {"a/#", "a"}, {"+/+", "/"}, {"$aws/#", "$aws/a"}, {"+", "$SYS"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, filter, name string) {
		fv := ValidFilter(filter) == nil
		nv := ValidName(name) == nil
		got := Match(filter, name)
		if fv && nv {
			if want := refMatch(filter, name); got != want {
				t.Fatalf("Match(%q, %q) = %v, reference says %v", filter, name, got, want)
			}
			if got && CheckAWS(filter) == nil && len(name) <= MaxBytes && !strings.Contains(filter, "#") && strings.Count(filter, "/") != strings.Count(name, "/") {
				t.Fatalf("%q matched %q with a different number of levels", filter, name)
			}
		}
		if fv && nv && !strings.ContainsAny(filter, "+#") && got != (filter == name) {
			t.Fatalf("a filter without wildcards matches only itself: %q %q %v", filter, name, got)
		}
		_ = CheckAWS(filter)
		_ = CheckAWSSubscribe(filter)
		_ = Level(name, len(filter)%10)
	})
}
