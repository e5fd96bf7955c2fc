package emulator

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

type topicRulePayload struct {
	SQL              string            `json:"sql"`
	Description      string            `json:"description,omitempty"`
	Actions          []json.RawMessage `json:"actions"`
	RuleDisabled     *bool             `json:"ruleDisabled,omitempty"`
	AwsIotSqlVersion string            `json:"awsIotSqlVersion,omitempty"`
	ErrorAction      json.RawMessage   `json:"errorAction,omitempty"`
}

func (s *Server) checkRule(c *call) (*topicRulePayload, *apiError) {
	name := c.segs[1]
	if !ruleNameRE.MatchString(name) {
		return nil, errf(400, "InvalidRequestException", "1 validation error detected: Value '%s' at 'ruleName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9_]+$", name)
	}
	var p topicRulePayload
	if e := c.decode(&p); e != nil {
		return nil, e
	}
	if p.SQL == "" || p.Actions == nil {
		return nil, errf(400, "InvalidRequestException", "topicRulePayload needs sql and actions")
	}
	if _, err := parseRuleSQL(p.SQL); err != nil {
		return nil, errf(400, "SqlParseException", "%v", err)
	}
	all := append([]json.RawMessage{}, p.Actions...)
	if len(p.ErrorAction) > 0 {
		all = append(all, p.ErrorAction)
	}
	for _, a := range all {
		var act map[string]struct {
			RoleArn string `json:"roleArn"`
		}
		if err := json.Unmarshal(a, &act); err != nil {
			return nil, errf(400, "InvalidRequestException", "invalid action: %v", err)
		}
		for kind, v := range act {
			if v.RoleArn == "" {
				return nil, errf(400, "InvalidRequestException", "action %s needs a roleArn", kind)
			}
			if e := s.assumable(v.RoleArn); e != nil {
				return nil, e
			}
		}
	}
	return &p, nil
}

// assumable says whether IoT could assume the role now: it must exist,
// trust iot.amazonaws.com, and be past IAM's propagation delay.
func (s *Server) assumable(arn string) *apiError {
	bad := errf(400, "InvalidRequestException", "iot.amazonaws.com is unable to perform: sts:AssumeRole on resource: %s", arn)
	for _, r := range s.st.Roles {
		if r.ARN != arn {
			continue
		}
		if !strings.Contains(r.Trust, "iot.amazonaws.com") {
			return bad
		}
		if s.now().Before(r.Ready) {
			return bad
		}
		return nil
	}
	return bad
}

func (s *Server) createTopicRule(c *call) (any, *apiError) {
	rs := s.region(c.region)
	name := c.segs[1]
	if _, ok := rs.Rules[name]; ok {
		return nil, &apiError{status: 409, code: "ResourceAlreadyExistsException", msg: "Rule " + name + " already exists",
			extra: map[string]any{"resourceId": name, "resourceArn": s.arn(c.region, "rule/"+name)}}
	}
	p, e := s.checkRule(c)
	if e != nil {
		return nil, e
	}
	raw, _ := json.Marshal(p)
	rs.Rules[name] = &rule{Name: name, ARN: s.arn(c.region, "rule/"+name), Payload: raw, Created: s.now()}
	return nil, nil
}

func (s *Server) replaceTopicRule(c *call) (any, *apiError) {
	rs := s.region(c.region)
	r, ok := rs.Rules[c.segs[1]]
	if !ok {
		return nil, notFound("Rule", c.segs[1])
	}
	p, e := s.checkRule(c)
	if e != nil {
		return nil, e
	}
	r.Payload, _ = json.Marshal(p)
	return nil, nil
}

func (s *Server) getTopicRule(c *call) (any, *apiError) {
	r, ok := s.region(c.region).Rules[c.segs[1]]
	if !ok {
		return nil, notFound("Rule", c.segs[1])
	}
	var p map[string]any
	json.Unmarshal(r.Payload, &p)
	p["ruleName"] = r.Name
	p["createdAt"] = epoch(r.Created)
	if p["ruleDisabled"] == nil {
		p["ruleDisabled"] = false
	}
	if p["awsIotSqlVersion"] == nil {
		p["awsIotSqlVersion"] = "2015-10-08"
	}
	return map[string]any{"ruleArn": r.ARN, "rule": p}, nil
}

func (s *Server) deleteTopicRule(c *call) (any, *apiError) {
	delete(s.region(c.region).Rules, c.segs[1])
	return nil, nil
}

// ruleSQL is the one rule shape the emulator runs:
// SELECT *, topic(n) AS a, timestamp() AS b, clientid() AS c FROM 'filter'.
type ruleSQL struct {
	star   bool
	fields []ruleField
	filter string
}

type ruleField struct {
	fn    string // topic, timestamp, clientid, expires (floor(timestamp()/1000)+n)
	arg   int64
	alias string
}

var (
	sqlRE      = regexp.MustCompile(`(?is)^\s*SELECT\s+(.+?)\s+FROM\s+'([^']*)'\s*(?:WHERE\s+.+)?$`)
	topicRE    = regexp.MustCompile(`(?i)^topic\(\s*(\d+)\s*\)\s+AS\s+(\w+)$`)
	tsRE       = regexp.MustCompile(`(?i)^timestamp\(\s*\)\s+AS\s+(\w+)$`)
	clientRE   = regexp.MustCompile(`(?i)^clientid\(\s*\)\s+AS\s+(\w+)$`)
	expiresRE  = regexp.MustCompile(`(?i)^floor\(\s*timestamp\(\s*\)\s*/\s*1000\s*\)\s*\+\s*(\d+)\s+AS\s+(\w+)$`)
	filterWord = regexp.MustCompile(`^[^#+]*$`)
)

func parseRuleSQL(sql string) (*ruleSQL, error) {
	m := sqlRE.FindStringSubmatch(sql)
	if m == nil {
		return nil, fmt.Errorf("Expected SELECT <expressions> FROM '<topic filter>' in %q", sql)
	}
	r := &ruleSQL{filter: m[2]}
	if err := checkFilter(r.filter); err != nil {
		return nil, err
	}
	for _, item := range strings.Split(m[1], ",") {
		item = strings.TrimSpace(item)
		switch {
		case item == "*":
			r.star = true
		case topicRE.MatchString(item):
			sm := topicRE.FindStringSubmatch(item)
			n, _ := strconv.ParseInt(sm[1], 10, 64)
			if n < 1 {
				return nil, fmt.Errorf("topic() levels count from 1")
			}
			r.fields = append(r.fields, ruleField{fn: "topic", arg: n, alias: sm[2]})
		case tsRE.MatchString(item):
			r.fields = append(r.fields, ruleField{fn: "timestamp", alias: tsRE.FindStringSubmatch(item)[1]})
		case clientRE.MatchString(item):
			r.fields = append(r.fields, ruleField{fn: "clientid", alias: clientRE.FindStringSubmatch(item)[1]})
		case expiresRE.MatchString(item):
			sm := expiresRE.FindStringSubmatch(item)
			n, _ := strconv.ParseInt(sm[1], 10, 64)
			r.fields = append(r.fields, ruleField{fn: "expires", arg: n, alias: sm[2]})
		default:
			return nil, fmt.Errorf("the emulator cannot evaluate the select expression %q", item)
		}
	}
	return r, nil
}

func checkFilter(f string) error {
	if f == "" {
		return fmt.Errorf("empty topic filter in FROM")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if l == "#" && i != len(levels)-1 {
			return fmt.Errorf("'#' must be the last level of %q", f)
		}
		if l != "#" && l != "+" && !filterWord.MatchString(l) {
			return fmt.Errorf("wildcards must fill a whole level in %q", f)
		}
	}
	return nil
}

// filterMatches is MQTT topic-filter matching (+ one level, # the rest).
func filterMatches(filter, topic string) bool {
	f := strings.Split(filter, "/")
	t := strings.Split(topic, "/")
	for i, l := range f {
		if l == "#" {
			return true
		}
		if i >= len(t) || (l != "+" && l != t[i]) {
			return false
		}
	}
	return len(f) == len(t)
}

// Publish runs the enabled rules of region on a message, as the rules
// engine would on a PUBLISH: the DynamoDBv2 actions write one item each.
// It returns the number of items written.
func (s *Server) Publish(region, clientID, topic string, payload []byte, at time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.region(region)
	written := 0
	for _, r := range rs.Rules {
		var p topicRulePayload
		json.Unmarshal(r.Payload, &p)
		if p.RuleDisabled != nil && *p.RuleDisabled {
			continue
		}
		q, err := parseRuleSQL(p.SQL)
		if err != nil || !filterMatches(q.filter, topic) {
			continue
		}
		item := map[string]any{}
		if q.star {
			var obj map[string]any
			if err := json.Unmarshal(payload, &obj); err != nil {
				return written, fmt.Errorf("rule %s: payload is not a JSON object: %v", r.Name, err)
			}
			for k, v := range obj {
				item[k] = v
			}
		}
		levels := strings.Split(topic, "/")
		for _, f := range q.fields {
			switch f.fn {
			case "topic":
				if int(f.arg) <= len(levels) {
					item[f.alias] = levels[f.arg-1]
				}
			case "timestamp":
				item[f.alias] = json.Number(strconv.FormatInt(at.UnixMilli(), 10))
			case "clientid":
				item[f.alias] = clientID
			case "expires":
				item[f.alias] = json.Number(strconv.FormatInt(at.Unix()+f.arg, 10))
			}
		}
		for _, a := range p.Actions {
			var act struct {
				DynamoDBv2 *struct {
					PutItem struct {
						TableName string `json:"tableName"`
					} `json:"putItem"`
				} `json:"dynamoDBv2"`
			}
			json.Unmarshal(a, &act)
			if act.DynamoDBv2 == nil {
				continue
			}
			av := map[string]any{}
			for k, v := range item {
				av[k] = toAttributeValue(v)
			}
			if e := s.putItem(region, act.DynamoDBv2.PutItem.TableName, av); e != nil {
				return written, fmt.Errorf("rule %s: %s", r.Name, e.Error())
			}
			written++
		}
	}
	s.saveLocked()
	return written, nil
}

func toAttributeValue(v any) map[string]any {
	switch v := v.(type) {
	case string:
		return map[string]any{"S": v}
	case json.Number:
		return map[string]any{"N": v.String()}
	case float64:
		return map[string]any{"N": strconv.FormatFloat(v, 'f', -1, 64)}
	case bool:
		return map[string]any{"BOOL": v}
	case nil:
		return map[string]any{"NULL": true}
	case map[string]any:
		m := map[string]any{}
		for k, e := range v {
			m[k] = toAttributeValue(e)
		}
		return map[string]any{"M": m}
	case []any:
		l := []any{}
		for _, e := range v {
			l = append(l, toAttributeValue(e))
		}
		return map[string]any{"L": l}
	}
	return map[string]any{"S": fmt.Sprint(v)}
}
