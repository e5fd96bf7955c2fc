// Package topic owns MQTT topic names and filters as iotbench checks them:
// validity (MQTT 3.1.1 §4.7), filter matching, and AWS IoT Core's size
// limits. The viewer and the local cloud share it so that a topic the
// local cloud accepts is one AWS accepts too.
package topic

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// AWS IoT Core limits (aws-iot.md §5.5). The local cloud enforces them so
// a board that works locally does not break on AWS.
const (
	// MaxBytes is the longest topic name or filter, in UTF-8 bytes.
	MaxBytes = 256
	// MaxSlashes is the most '/' a topic may have (8 levels), not counting
	// the $aws/rules/<rule>/ prefix of Basic Ingest.
	MaxSlashes = 7
	// MaxPayload is the largest PUBLISH payload.
	MaxPayload = 128 * 1024
	// MaxFiltersPerSubscribe and MaxSubscriptions bound one connection.
	MaxFiltersPerSubscribe = 8
	MaxSubscriptions       = 50
)

// ValidName reports why name cannot be published to, or nil. MQTT forbids
// wildcards and NUL in names and requires at least one character.
func ValidName(name string) error {
	if name == "" {
		return fmt.Errorf("empty topic name")
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("topic %q is not valid UTF-8", name)
	}
	if strings.ContainsAny(name, "+#") {
		return fmt.Errorf("topic %q contains a wildcard (+ or #): wildcards are for subscriptions only", name)
	}
	if strings.ContainsRune(name, 0) {
		return fmt.Errorf("topic %q contains a NUL character", name)
	}
	if len(name) > 65535 {
		return fmt.Errorf("topic is %d bytes, MQTT allows 65535", len(name))
	}
	return nil
}

// ValidFilter reports why filter cannot be subscribed to, or nil: '#' only
// as the whole last level, '+' only as a whole level.
func ValidFilter(filter string) error {
	if filter == "" {
		return fmt.Errorf("empty topic filter")
	}
	if !utf8.ValidString(filter) {
		return fmt.Errorf("filter %q is not valid UTF-8", filter)
	}
	if strings.ContainsRune(filter, 0) {
		return fmt.Errorf("filter %q contains a NUL character", filter)
	}
	if len(filter) > 65535 {
		return fmt.Errorf("filter is %d bytes, MQTT allows 65535", len(filter))
	}
	levels := strings.Split(filter, "/")
	for i, l := range levels {
		switch {
		case l == "#":
			if i != len(levels)-1 {
				return fmt.Errorf("filter %q: '#' must be the last level", filter)
			}
		case l == "+":
		case strings.ContainsAny(l, "+#"):
			return fmt.Errorf("filter %q: a wildcard must take a whole level (%q)", filter, l)
		}
	}
	return nil
}

// Match reports whether topic name matches filter (both assumed valid).
// Names starting with '$' are not matched by a filter starting with a
// wildcard (MQTT 3.1.1 §4.7.2), so '#' does not see $SYS or $aws topics.
func Match(filter, name string) bool {
	if name != "" && name[0] == '$' && filter != "" && (filter[0] == '+' || filter[0] == '#') {
		return false
	}
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return true
		}
		nl, nrest, nmore := strings.Cut(name, "/")
		if fl != "+" && fl != nl {
			return false
		}
		if !fmore && !nmore {
			return true
		}
		if !nmore {
			// "a/#" matches "a": the '#' also stands for the parent level.
			return fmore && frest == "#"
		}
		if !fmore {
			return false
		}
		filter, name = frest, nrest
	}
}

// Level returns the 1-based level n of name ("" when it has fewer), the
// way the AWS rules engine's topic(n) counts.
func Level(name string, n int) string {
	if n < 1 {
		return ""
	}
	for i := 1; ; i++ {
		l, rest, more := strings.Cut(name, "/")
		if i == n {
			return l
		}
		if !more {
			return ""
		}
		name = rest
	}
}

// CheckAWS reports why AWS IoT Core would refuse t (a name or a filter)
// for its size, or nil.
func CheckAWS(t string) error {
	if len(t) > MaxBytes {
		return fmt.Errorf("topic %q… is %d bytes: AWS IoT allows at most %d", t[:32], len(t), MaxBytes)
	}
	probe := t
	if strings.HasPrefix(probe, "$aws/rules/") {
		// Basic Ingest: the $aws/rules/<rule>/ prefix does not count.
		rest := strings.TrimPrefix(probe, "$aws/rules/")
		if _, after, ok := strings.Cut(rest, "/"); ok {
			probe = after
		}
	}
	if n := strings.Count(probe, "/"); n > MaxSlashes {
		return fmt.Errorf("topic %q has %d levels: AWS IoT allows at most %d", t, n+1, MaxSlashes+1)
	}
	return nil
}

// CheckAWSSubscribe adds the filters AWS IoT refuses or punishes on top of
// the size limits: '#' and $SYS/# get the viewer disconnected.
func CheckAWSSubscribe(filter string) error {
	if err := ValidFilter(filter); err != nil {
		return err
	}
	if filter == "#" || filter == "+/#" || strings.HasPrefix(filter, "$SYS") {
		return fmt.Errorf("not subscribing to %q on AWS IoT: AWS disconnects clients for it (and charges for every message); subscribe to iotbench/# or to a thing's topics", filter)
	}
	return CheckAWS(filter)
}
