package policy

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Scope is where resources live: partition, region and account.
type Scope struct {
	Partition string // "aws" when empty
	Region    string
	Account   string
}

// ARN is arn:PARTITION:iot:REGION:ACCOUNT:resource.
func (s Scope) ARN(resource string) string {
	p := s.Partition
	if p == "" {
		p = "aws"
	}
	return "arn:" + p + ":iot:" + s.Region + ":" + s.Account + ":" + resource
}

// ClientARN is the resource of iot:Connect.
func (s Scope) ClientARN(clientID string) string { return s.ARN("client/" + clientID) }

// TopicARN is the resource of iot:Publish, iot:Receive and iot:RetainPublish.
func (s Scope) TopicARN(topic string) string { return s.ARN("topic/" + topic) }

// TopicFilterARN is the resource of iot:Subscribe.
func (s Scope) TopicFilterARN(filter string) string { return s.ARN("topicfilter/" + filter) }

// ThingARN is the resource of the shadow actions.
func (s Scope) ThingARN(thing string) string { return s.ARN("thing/" + thing) }

// ClientARN is Scope{Region: region, Account: account}.ClientARN(clientID).
func ClientARN(region, account, clientID string) string {
	return Scope{Region: region, Account: account}.ClientARN(clientID)
}

// TopicARN is Scope{Region: region, Account: account}.TopicARN(topic).
func TopicARN(region, account, topic string) string {
	return Scope{Region: region, Account: account}.TopicARN(topic)
}

// TopicFilterARN is Scope{Region: region, Account: account}.TopicFilterARN(filter).
func TopicFilterARN(region, account, filter string) string {
	return Scope{Region: region, Account: account}.TopicFilterARN(filter)
}

// Context is what policy variables and condition keys resolve to for one
// connection.
type Context struct {
	Scope
	// ClientID is the MQTT client id (${iot:ClientId}).
	ClientID string
	// ThingName is the thing the connection is acting as. Set it only when
	// the certificate is attached to a thing of exactly this name and the
	// client id equals it, as AWS IoT does; empty means thing variables
	// have no value and iot:Connection.Thing.IsAttached is false.
	ThingName       string
	ThingTypeName   string
	ThingAttributes map[string]string
	// CertificateID is the certificate's id (${iot:CertificateId}).
	CertificateID string
	// SourceIP is the client's address, for aws:SourceIp conditions.
	SourceIP string
	// Vars holds any other variable by its full name, e.g.
	// "iot:Certificate.Subject.CommonName". Names match case-insensitively.
	Vars map[string]string
}

// Lookup returns the value of a policy variable or condition key.
func (c Context) Lookup(name string) (string, bool) {
	l := strings.ToLower(name)
	switch l {
	case "iot:clientid":
		return c.ClientID, c.ClientID != ""
	case "iot:connection.thing.thingname":
		return c.ThingName, c.ThingName != ""
	case "iot:connection.thing.thingtypename":
		return c.ThingTypeName, c.ThingName != "" && c.ThingTypeName != ""
	case "iot:connection.thing.isattached":
		if c.ThingName != "" {
			return "true", true
		}
		return "false", true
	case "iot:certificateid", "iot:certificate.id":
		return c.CertificateID, c.CertificateID != ""
	case "aws:sourceip":
		return c.SourceIP, c.SourceIP != ""
	case "aws:sourceaccount":
		return c.Account, c.Account != ""
	}
	if rest, ok := strings.CutPrefix(l, "iot:connection.thing.attributes["); ok && strings.HasSuffix(rest, "]") && c.ThingName != "" {
		attr := name[len(name)-len(rest) : len(name)-1]
		v, ok := c.ThingAttributes[attr]
		return v, ok
	}
	for k, v := range c.Vars {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// Request is one thing a client wants to do.
type Request struct {
	Action   string // e.g. ActionPublish
	Resource string // e.g. Context.TopicARN("iotbench/x/telemetry")
	Context  Context
}

// Decision is the answer for one Request.
type Decision struct {
	Allowed bool
	// Explicit is true when a statement decided (an Allow that applied or a
	// Deny), false for the implicit deny.
	Explicit bool
	// Policy and Statement (1-based) name the deciding statement; Sid is its Sid.
	Policy    string
	Statement int
	Sid       string
	// Reason says in words why, naming the statement.
	Reason string
}

// Evaluate decides a request against every policy that applies to the
// principal (those attached to its certificate and thing groups).
func Evaluate(docs []*Document, req Request) Decision {
	var allow *Decision
	var hints []string
	for _, d := range docs {
		if d == nil {
			continue
		}
		for i := range d.Statements {
			st := &d.Statements[i]
			ok, hint := st.applies(d.Version == "2012-10-17", req)
			if hint != "" {
				hints = append(hints, fmt.Sprintf("%s %s", stmtName(d, i, st), hint))
			}
			if !ok {
				continue
			}
			dec := Decision{Explicit: true, Policy: d.Name, Statement: i + 1, Sid: st.Sid}
			if st.Effect == Deny {
				dec.Reason = fmt.Sprintf("%s on %s denied by %s", req.Action, req.Resource, stmtName(d, i, st))
				return dec
			}
			if allow == nil {
				dec.Allowed = true
				dec.Reason = fmt.Sprintf("%s on %s allowed by %s", req.Action, req.Resource, stmtName(d, i, st))
				allow = &dec
			}
		}
	}
	if allow != nil {
		return *allow
	}
	reason := fmt.Sprintf("no statement allows %s on %s", req.Action, req.Resource)
	if len(hints) > 0 {
		reason += " (" + strings.Join(hints, "; ") + ")"
	}
	return Decision{Reason: reason}
}

func stmtName(d *Document, i int, st *Statement) string {
	s := fmt.Sprintf("statement %d", i+1)
	if st.Sid != "" {
		s += fmt.Sprintf(" (%s)", st.Sid)
	}
	if d.Name != "" {
		s += " of policy " + d.Name
	}
	return s
}

// applies reports whether the statement matches the request; when it
// matched the action but a variable had no value, hint says which.
func (st *Statement) applies(vars bool, req Request) (bool, string) {
	if !st.matchesAction(req.Action) {
		return false, ""
	}
	var unresolved []string
	matched := false
	if st.Resources != nil {
		for _, r := range st.Resources {
			ok, missing := matchResource(r, req.Resource, vars, req.Context)
			unresolved = append(unresolved, missing...)
			if ok {
				matched = true
				break
			}
		}
	} else {
		matched = true
		for _, r := range st.NotResources {
			if ok, _ := matchResource(r, req.Resource, vars, req.Context); ok {
				matched = false
				break
			}
		}
	}
	hint := ""
	if !matched && len(unresolved) > 0 {
		hint = "names ${" + strings.Join(dedupe(unresolved), "}, ${") + "}, which has no value here"
		for _, u := range unresolved {
			if strings.HasPrefix(strings.ToLower(u), "iot:connection.thing.") {
				hint += ": thing variables resolve only when the certificate is attached to a thing whose name is the client id"
				break
			}
		}
	}
	if !matched {
		return false, hint
	}
	for _, c := range st.Conditions {
		ok, why := c.holds(vars, req.Context)
		if !ok {
			return false, why
		}
	}
	return true, ""
}

func dedupe(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func (st *Statement) matchesAction(action string) bool {
	match := func(p string) bool {
		return globMatch(tokenize(strings.ToLower(p), false), strings.ToLower(action))
	}
	if st.Actions != nil {
		for _, p := range st.Actions {
			if match(p) {
				return true
			}
		}
		return false
	}
	for _, p := range st.NotActions {
		if match(p) {
			return false
		}
	}
	return true
}

// matchResource matches one Resource entry against an ARN, part by part.
func matchResource(pattern, arn string, vars bool, ctx Context) (bool, []string) {
	if pattern == "*" {
		return true, nil
	}
	pparts := splitTokens(tokenize(pattern, vars), 6)
	aparts := strings.SplitN(arn, ":", 6)
	if len(pparts) != 6 || len(aparts) != 6 {
		return false, nil
	}
	var missing []string
	ok := true
	for i := range pparts {
		exp, miss := expand(pparts[i], ctx)
		if len(miss) > 0 {
			missing = append(missing, miss...)
			ok = false
			continue
		}
		if ok && !globMatch(exp, aparts[i]) {
			ok = false
		}
	}
	return ok && len(missing) == 0, missing
}

// A token is a literal rune, a wildcard or a variable reference.
type token struct {
	kind byte // 'l' literal, '*', '?', 'v' variable
	r    rune
	name string
}

// tokenize reads wildcards, and when vars is set ${name} variables and
// the $(*) $(?) $($) escapes.
func tokenize(s string, vars bool) []token {
	var out []token
	for i := 0; i < len(s); {
		if vars && strings.HasPrefix(s[i:], "${") {
			if end := strings.IndexByte(s[i+2:], '}'); end >= 0 {
				out = append(out, token{kind: 'v', name: strings.TrimSpace(s[i+2 : i+2+end])})
				i += end + 3
				continue
			}
		}
		if vars && len(s)-i >= 4 && s[i] == '$' && s[i+1] == '(' && s[i+3] == ')' && strings.IndexByte("*?$", s[i+2]) >= 0 {
			out = append(out, token{kind: 'l', r: rune(s[i+2])})
			i += 4
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '*':
			out = append(out, token{kind: '*'})
		case '?':
			out = append(out, token{kind: '?'})
		default:
			out = append(out, token{kind: 'l', r: r})
		}
		i += size
	}
	return out
}

// splitTokens splits at literal ':' into at most n parts.
func splitTokens(ts []token, n int) [][]token {
	var parts [][]token
	start := 0
	for i, t := range ts {
		if len(parts) == n-1 {
			break
		}
		if t.kind == 'l' && t.r == ':' {
			parts = append(parts, ts[start:i])
			start = i + 1
		}
	}
	return append(parts, ts[start:])
}

// expand replaces variables by literal tokens of their values.
func expand(ts []token, ctx Context) ([]token, []string) {
	var missing []string
	var out []token
	for _, t := range ts {
		if t.kind != 'v' {
			out = append(out, t)
			continue
		}
		v, ok := ctx.Lookup(t.name)
		if !ok {
			missing = append(missing, t.name)
			continue
		}
		for _, r := range v {
			out = append(out, token{kind: 'l', r: r})
		}
	}
	return out, missing
}

// globMatch matches tokens against s: '*' any run, '?' one character.
func globMatch(p []token, s string) bool {
	rs := []rune(s)
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(rs) {
		switch {
		case pi < len(p) && (p[pi].kind == '?' || p[pi].kind == 'l' && p[pi].r == rs[si]):
			pi++
			si++
		case pi < len(p) && p[pi].kind == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi].kind == '*' {
		pi++
	}
	return pi == len(p)
}

// operator evaluates one condition value against the key's value.
type operator struct {
	test    func(have, want string, vars bool, ctx Context) bool
	negated bool
}

func operatorFunc(op string) (operator, bool) {
	base := op
	for _, p := range []string{"ForAnyValue:", "ForAllValues:"} {
		base = strings.TrimPrefix(base, p)
	}
	base = strings.TrimSuffix(base, "IfExists")
	eq := func(h, w string, vars bool, ctx Context) bool { return h == literal(w, vars, ctx) }
	like := func(h, w string, vars bool, ctx Context) bool {
		exp, miss := expand(tokenize(w, vars), ctx)
		return len(miss) == 0 && globMatch(exp, h)
	}
	arnLike := func(h, w string, vars bool, ctx Context) bool { return matchArnCond(w, h, vars, ctx) }
	num := func(cmp func(a, b float64) bool) func(h, w string, vars bool, ctx Context) bool {
		return func(h, w string, vars bool, ctx Context) bool {
			a, err1 := strconv.ParseFloat(h, 64)
			b, err2 := strconv.ParseFloat(w, 64)
			return err1 == nil && err2 == nil && cmp(a, b)
		}
	}
	switch base {
	case "StringEquals":
		return operator{test: eq}, true
	case "StringNotEquals":
		return operator{test: eq, negated: true}, true
	case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
		return operator{test: func(h, w string, vars bool, ctx Context) bool {
			return strings.EqualFold(h, literal(w, vars, ctx))
		}, negated: strings.Contains(base, "Not")}, true
	case "StringLike":
		return operator{test: like}, true
	case "StringNotLike":
		return operator{test: like, negated: true}, true
	case "Bool":
		return operator{test: func(h, w string, _ bool, _ Context) bool { return strings.EqualFold(h, w) }}, true
	case "ArnEquals", "ArnLike":
		return operator{test: arnLike}, true
	case "ArnNotEquals", "ArnNotLike":
		return operator{test: arnLike, negated: true}, true
	case "Null":
		return operator{}, true
	case "IpAddress", "NotIpAddress":
		return operator{test: func(h, w string, _ bool, _ Context) bool {
			addr, err := netip.ParseAddr(h)
			if err != nil {
				return false
			}
			if pfx, err := netip.ParsePrefix(w); err == nil {
				return pfx.Contains(addr)
			}
			want, err := netip.ParseAddr(w)
			return err == nil && want == addr
		}, negated: base == "NotIpAddress"}, true
	case "NumericEquals":
		return operator{test: num(func(a, b float64) bool { return a == b })}, true
	case "NumericNotEquals":
		return operator{test: num(func(a, b float64) bool { return a == b }), negated: true}, true
	case "NumericLessThan":
		return operator{test: num(func(a, b float64) bool { return a < b })}, true
	case "NumericLessThanEquals":
		return operator{test: num(func(a, b float64) bool { return a <= b })}, true
	case "NumericGreaterThan":
		return operator{test: num(func(a, b float64) bool { return a > b })}, true
	case "NumericGreaterThanEquals":
		return operator{test: num(func(a, b float64) bool { return a >= b })}, true
	}
	return operator{}, false
}

func literal(w string, vars bool, ctx Context) string {
	if !vars {
		return w
	}
	exp, miss := expand(tokenize(w, true), ctx)
	if len(miss) > 0 {
		return "\x00unresolved"
	}
	var b strings.Builder
	for _, t := range exp {
		switch t.kind {
		case '*':
			b.WriteByte('*')
		case '?':
			b.WriteByte('?')
		default:
			b.WriteRune(t.r)
		}
	}
	return b.String()
}

func matchArnCond(pattern, arn string, vars bool, ctx Context) bool {
	ok, _ := matchResource(pattern, arn, vars, ctx)
	return ok
}

// holds evaluates one condition; why explains a failure for the hint.
func (c Condition) holds(vars bool, ctx Context) (bool, string) {
	op, _ := operatorFunc(c.Operator)
	have, present := ctx.Lookup(c.Key)
	if strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(c.Operator, "ForAnyValue:"), "ForAllValues:"), "IfExists") == "Null" {
		// Null: "true" means the key must be absent.
		for _, v := range c.Values {
			if strings.EqualFold(v, "true") == !present {
				return true, ""
			}
		}
		return false, fmt.Sprintf("condition Null %s does not hold", c.Key)
	}
	if !present {
		if strings.HasSuffix(c.Operator, "IfExists") || strings.HasPrefix(c.Operator, "ForAllValues:") || op.negated {
			return true, ""
		}
		return false, fmt.Sprintf("condition %s %s: the key has no value here", c.Operator, c.Key)
	}
	any := false
	for _, w := range c.Values {
		if op.test(have, w, vars, ctx) {
			any = true
			break
		}
	}
	if any != op.negated {
		return true, ""
	}
	return false, fmt.Sprintf("condition %s %s=%v does not hold (%s is %q)", c.Operator, c.Key, c.Values, c.Key, have)
}
