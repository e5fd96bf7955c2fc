package emulator

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

type keyAttr struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type table struct {
	Name       string           `json:"name"`
	ARN        string           `json:"arn"`
	ID         string           `json:"id"`
	Hash       keyAttr          `json:"hash"`
	Range      *keyAttr         `json:"range,omitempty"`
	Billing    string           `json:"billing"`
	Created    time.Time        `json:"created"`
	TTLAttr    string           `json:"ttl_attr,omitempty"`
	TTLEnabled bool             `json:"ttl_enabled"`
	Items      []map[string]any `json:"items"`
}

const ddbType = "application/x-amz-json-1.0"

func (s *Server) serveDynamoDB(w http.ResponseWriter, c *call) {
	target := c.r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "DynamoDB_20120810.")
	if !ok {
		s.writeError(w, "dynamodb", errf(400, "UnknownOperationException", "unknown X-Amz-Target %q", target))
		return
	}
	if e := s.fault("dynamodb:" + op); e != nil {
		s.writeError(w, "dynamodb", e)
		return
	}
	var in map[string]json.RawMessage
	if err := json.Unmarshal(c.body, &in); err != nil {
		s.writeError(w, "dynamodb", errf(400, "SerializationException", "body is not JSON"))
		return
	}
	var out any
	var e *apiError
	switch op {
	case "CreateTable":
		out, e = s.createTable(c.region, in)
	case "DescribeTable":
		out, e = s.describeTable(c.region, in)
	case "DeleteTable":
		out, e = s.deleteTable(c.region, in)
	case "UpdateTimeToLive":
		out, e = s.updateTTL(c.region, in)
	case "DescribeTimeToLive":
		out, e = s.describeTTL(c.region, in)
	case "PutItem":
		var req struct {
			TableName string
			Item      map[string]any
		}
		if e = decodeRaw(in, &req); e == nil {
			e = s.putItem(c.region, req.TableName, req.Item)
			out = map[string]any{}
		}
	case "Query":
		out, e = s.query(c.region, in)
	default:
		e = errf(400, "UnknownOperationException", "the emulator does not implement dynamodb:%s", op)
	}
	if e != nil {
		s.writeError(w, "dynamodb", e)
		return
	}
	if op != "DescribeTable" && op != "Query" && op != "DescribeTimeToLive" {
		s.saveLocked()
	}
	b, _ := json.Marshal(out)
	w.Header().Set("Content-Type", ddbType)
	w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(b)), 10))
	w.Write(b)
}

func decodeRaw(in map[string]json.RawMessage, v any) *apiError {
	b, _ := json.Marshal(in)
	if err := json.Unmarshal(b, v); err != nil {
		return errf(400, "SerializationException", "%v", err)
	}
	return nil
}

func validation(format string, args ...any) *apiError {
	return errf(400, "ValidationException", format, args...)
}

func (s *Server) tableFor(region, name string) (*table, *apiError) {
	t := s.region(region).Tables[name]
	if t == nil {
		return nil, errf(400, "ResourceNotFoundException", "Requested resource not found: Table: %s not found", name)
	}
	return t, nil
}

func (s *Server) createTable(region string, in map[string]json.RawMessage) (any, *apiError) {
	var req struct {
		TableName             string
		BillingMode           string
		KeySchema             []struct{ AttributeName, KeyType string }
		AttributeDefinitions  []struct{ AttributeName, AttributeType string }
		ProvisionedThroughput *struct {
			ReadCapacityUnits, WriteCapacityUnits int64
		}
	}
	if e := decodeRaw(in, &req); e != nil {
		return nil, e
	}
	if len(req.TableName) < 3 || len(req.TableName) > 255 {
		return nil, validation("TableName must be 3 to 255 characters long")
	}
	rs := s.region(region)
	if _, ok := rs.Tables[req.TableName]; ok {
		return nil, errf(400, "ResourceInUseException", "Table already exists: %s", req.TableName)
	}
	switch req.BillingMode {
	case "PAY_PER_REQUEST":
		if req.ProvisionedThroughput != nil {
			return nil, validation("One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST")
		}
	case "", "PROVISIONED":
		if req.ProvisionedThroughput == nil {
			return nil, validation("One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED")
		}
		req.BillingMode = "PROVISIONED"
	default:
		return nil, validation("BillingMode must be PROVISIONED or PAY_PER_REQUEST")
	}
	types := map[string]string{}
	for _, d := range req.AttributeDefinitions {
		types[d.AttributeName] = d.AttributeType
	}
	t := &table{Name: req.TableName, Billing: req.BillingMode, Created: s.now(), ID: s.uuid(),
		ARN: "arn:aws:dynamodb:" + region + ":" + s.st.Account + ":table/" + req.TableName}
	for _, k := range req.KeySchema {
		typ, ok := types[k.AttributeName]
		if !ok {
			return nil, validation("One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions")
		}
		switch k.KeyType {
		case "HASH":
			t.Hash = keyAttr{k.AttributeName, typ}
		case "RANGE":
			t.Range = &keyAttr{k.AttributeName, typ}
		}
	}
	if t.Hash.Name == "" || len(req.AttributeDefinitions) != len(req.KeySchema) {
		return nil, validation("One or more parameter values were invalid: the key schema needs one HASH key, and every attribute definition must be a key")
	}
	rs.Tables[t.Name] = t
	return map[string]any{"TableDescription": t.describe("ACTIVE")}, nil
}

func (t *table) describe(status string) map[string]any {
	ks := []map[string]string{{"AttributeName": t.Hash.Name, "KeyType": "HASH"}}
	ad := []map[string]string{{"AttributeName": t.Hash.Name, "AttributeType": t.Hash.Type}}
	if t.Range != nil {
		ks = append(ks, map[string]string{"AttributeName": t.Range.Name, "KeyType": "RANGE"})
		ad = append(ad, map[string]string{"AttributeName": t.Range.Name, "AttributeType": t.Range.Type})
	}
	d := map[string]any{"TableName": t.Name, "TableArn": t.ARN, "TableId": t.ID, "TableStatus": status,
		"KeySchema": ks, "AttributeDefinitions": ad, "CreationDateTime": epoch(t.Created),
		"ItemCount": len(t.Items), "TableSizeBytes": 0,
		"BillingModeSummary": map[string]any{"BillingMode": t.Billing}}
	if t.Billing == "PROVISIONED" {
		d["ProvisionedThroughput"] = map[string]any{"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}
	}
	return d
}

func (s *Server) describeTable(region string, in map[string]json.RawMessage) (any, *apiError) {
	var req struct{ TableName string }
	if e := decodeRaw(in, &req); e != nil {
		return nil, e
	}
	t, e := s.tableFor(region, req.TableName)
	if e != nil {
		return nil, e
	}
	return map[string]any{"Table": t.describe("ACTIVE")}, nil
}

func (s *Server) deleteTable(region string, in map[string]json.RawMessage) (any, *apiError) {
	var req struct{ TableName string }
	if e := decodeRaw(in, &req); e != nil {
		return nil, e
	}
	t, e := s.tableFor(region, req.TableName)
	if e != nil {
		return nil, e
	}
	delete(s.region(region).Tables, t.Name)
	return map[string]any{"TableDescription": t.describe("DELETING")}, nil
}

func (s *Server) updateTTL(region string, in map[string]json.RawMessage) (any, *apiError) {
	var req struct {
		TableName               string
		TimeToLiveSpecification struct {
			Enabled       bool
			AttributeName string
		}
	}
	if e := decodeRaw(in, &req); e != nil {
		return nil, e
	}
	t, e := s.tableFor(region, req.TableName)
	if e != nil {
		return nil, e
	}
	spec := req.TimeToLiveSpecification
	if spec.Enabled && t.TTLEnabled {
		return nil, validation("TimeToLive is already enabled")
	}
	if !spec.Enabled && !t.TTLEnabled {
		return nil, validation("TimeToLive is already disabled")
	}
	t.TTLEnabled, t.TTLAttr = spec.Enabled, spec.AttributeName
	return map[string]any{"TimeToLiveSpecification": map[string]any{"Enabled": spec.Enabled, "AttributeName": spec.AttributeName}}, nil
}

func (s *Server) describeTTL(region string, in map[string]json.RawMessage) (any, *apiError) {
	var req struct{ TableName string }
	if e := decodeRaw(in, &req); e != nil {
		return nil, e
	}
	t, e := s.tableFor(region, req.TableName)
	if e != nil {
		return nil, e
	}
	d := map[string]any{"TimeToLiveStatus": "DISABLED"}
	if t.TTLEnabled {
		d = map[string]any{"TimeToLiveStatus": "ENABLED", "AttributeName": t.TTLAttr}
	}
	return map[string]any{"TimeToLiveDescription": d}, nil
}

// scalar returns an attribute value's type and text for key attributes.
func scalar(v any) (string, string) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", ""
	}
	for k, x := range m {
		s, _ := x.(string)
		return k, s
	}
	return "", ""
}

func (s *Server) putItem(region, name string, item map[string]any) *apiError {
	t, e := s.tableFor(region, name)
	if e != nil {
		return e
	}
	keys := []keyAttr{t.Hash}
	if t.Range != nil {
		keys = append(keys, *t.Range)
	}
	for _, k := range keys {
		typ, _ := scalar(item[k.Name])
		if typ == "" {
			return validation("One or more parameter values were invalid: Missing the key %s in the item", k.Name)
		}
		if typ != k.Type {
			return validation("One or more parameter values were invalid: Type mismatch for key %s expected: %s actual: %s", k.Name, k.Type, typ)
		}
	}
	for i, old := range t.Items {
		if sameKey(t, old, item) {
			t.Items[i] = item
			return nil
		}
	}
	t.Items = append(t.Items, item)
	return nil
}

func sameKey(t *table, a, b map[string]any) bool {
	_, ah := scalar(a[t.Hash.Name])
	_, bh := scalar(b[t.Hash.Name])
	if ah != bh {
		return false
	}
	if t.Range == nil {
		return true
	}
	_, ar := scalar(a[t.Range.Name])
	_, br := scalar(b[t.Range.Name])
	return compareKey(t.Range.Type, ar, br) == 0
}

func compareKey(typ, a, b string) int {
	if typ == "N" {
		x, _ := strconv.ParseFloat(a, 64)
		y, _ := strconv.ParseFloat(b, 64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return strings.Compare(a, b)
}

// keyCond is one comparison of a KeyConditionExpression.
type keyCond struct {
	attr string
	op   string // = < <= > >= BETWEEN begins_with
	vals []string
}

func (s *Server) query(region string, in map[string]json.RawMessage) (any, *apiError) {
	var req struct {
		TableName                 string
		KeyConditionExpression    string
		ExpressionAttributeNames  map[string]string
		ExpressionAttributeValues map[string]any
		ScanIndexForward          *bool
		Limit                     int
		ExclusiveStartKey         map[string]any
	}
	if e := decodeRaw(in, &req); e != nil {
		return nil, e
	}
	t, e := s.tableFor(region, req.TableName)
	if e != nil {
		return nil, e
	}
	conds, err := parseKeyCondition(req.KeyConditionExpression)
	if err != nil {
		return nil, validation("Invalid KeyConditionExpression: %v", err)
	}
	resolveName := func(n string) (string, *apiError) {
		if strings.HasPrefix(n, "#") {
			v, ok := req.ExpressionAttributeNames[n]
			if !ok {
				return "", validation("An expression attribute name used in the document path is not defined; attribute name: %s", n)
			}
			return v, nil
		}
		if reservedWords[strings.ToUpper(n)] {
			return "", validation("Invalid KeyConditionExpression: Attribute name is a reserved keyword; reserved keyword: %s", n)
		}
		return n, nil
	}
	var hashVal string
	var rangeCond *keyCond
	for i := range conds {
		kc := &conds[i]
		name, e := resolveName(kc.attr)
		if e != nil {
			return nil, e
		}
		kc.attr = name
		for j, v := range kc.vals {
			av, ok := req.ExpressionAttributeValues[v]
			if !ok {
				return nil, validation("An expression attribute value used in expression is not defined; attribute value: %s", v)
			}
			_, kc.vals[j] = scalar(av)
		}
		switch {
		case name == t.Hash.Name && kc.op == "=":
			hashVal = kc.vals[0]
		case t.Range != nil && name == t.Range.Name:
			rangeCond = kc
		default:
			return nil, validation("Query condition missed key schema element or used a non-key attribute: %s", name)
		}
	}
	if hashVal == "" {
		return nil, validation("Query condition missed key schema element: %s", t.Hash.Name)
	}
	var items []map[string]any
	for _, it := range t.Items {
		if _, h := scalar(it[t.Hash.Name]); h != hashVal {
			continue
		}
		if rangeCond != nil {
			_, r := scalar(it[t.Range.Name])
			if !rangeCond.holds(t.Range.Type, r) {
				continue
			}
		}
		items = append(items, it)
	}
	forward := req.ScanIndexForward == nil || *req.ScanIndexForward
	if t.Range != nil {
		sort.SliceStable(items, func(i, j int) bool {
			_, a := scalar(items[i][t.Range.Name])
			_, b := scalar(items[j][t.Range.Name])
			c := compareKey(t.Range.Type, a, b)
			if forward {
				return c < 0
			}
			return c > 0
		})
	}
	if req.ExclusiveStartKey != nil {
		for i, it := range items {
			if sameKey(t, it, req.ExclusiveStartKey) {
				items = items[i+1:]
				break
			}
		}
	}
	out := map[string]any{}
	if req.Limit > 0 && len(items) > req.Limit {
		items = items[:req.Limit]
		last := items[len(items)-1]
		lek := map[string]any{t.Hash.Name: last[t.Hash.Name]}
		if t.Range != nil {
			lek[t.Range.Name] = last[t.Range.Name]
		}
		out["LastEvaluatedKey"] = lek
	}
	if items == nil {
		items = []map[string]any{}
	}
	out["Items"] = items
	out["Count"] = len(items)
	out["ScannedCount"] = len(items)
	return out, nil
}

func (k *keyCond) holds(typ, v string) bool {
	c := func(i int) int { return compareKey(typ, v, k.vals[i]) }
	switch k.op {
	case "=":
		return c(0) == 0
	case "<":
		return c(0) < 0
	case "<=":
		return c(0) <= 0
	case ">":
		return c(0) > 0
	case ">=":
		return c(0) >= 0
	case "BETWEEN":
		return c(0) >= 0 && c(1) <= 0
	case "begins_with":
		return strings.HasPrefix(v, k.vals[0])
	}
	return false
}

// parseKeyCondition reads "a = :x AND b BETWEEN :y AND :z" and friends.
func parseKeyCondition(expr string) ([]keyCond, error) {
	toks := keyTokens(expr)
	var out []keyCond
	i := 0
	next := func() string {
		if i >= len(toks) {
			return ""
		}
		i++
		return toks[i-1]
	}
	for {
		t := next()
		if t == "" {
			return nil, fmt.Errorf("empty condition")
		}
		if strings.EqualFold(t, "begins_with") {
			if next() != "(" {
				return nil, fmt.Errorf("begins_with needs (")
			}
			a := next()
			if next() != "," {
				return nil, fmt.Errorf("begins_with needs two arguments")
			}
			v := next()
			if next() != ")" {
				return nil, fmt.Errorf("begins_with needs )")
			}
			out = append(out, keyCond{attr: a, op: "begins_with", vals: []string{v}})
		} else {
			op := next()
			switch {
			case op == "=" || op == "<" || op == "<=" || op == ">" || op == ">=":
				v := next()
				if !strings.HasPrefix(v, ":") {
					return nil, fmt.Errorf("expected a :value after %s", op)
				}
				out = append(out, keyCond{attr: t, op: op, vals: []string{v}})
			case strings.EqualFold(op, "BETWEEN"):
				lo := next()
				if !strings.EqualFold(next(), "AND") {
					return nil, fmt.Errorf("BETWEEN needs AND")
				}
				hi := next()
				if !strings.HasPrefix(lo, ":") || !strings.HasPrefix(hi, ":") {
					return nil, fmt.Errorf("BETWEEN needs :values")
				}
				out = append(out, keyCond{attr: t, op: "BETWEEN", vals: []string{lo, hi}})
			default:
				return nil, fmt.Errorf("unexpected %q", op)
			}
		}
		if i == len(toks) {
			return out, nil
		}
		if !strings.EqualFold(next(), "AND") {
			return nil, fmt.Errorf("conditions must be joined with AND")
		}
	}
}

func keyTokens(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		c := rune(s[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case strings.ContainsRune("(),", c):
			out = append(out, string(c))
			i++
		case c == '<' || c == '>' || c == '=':
			if i+1 < len(s) && s[i+1] == '=' {
				out = append(out, s[i:i+2])
				i += 2
			} else {
				out = append(out, string(c))
				i++
			}
		default:
			j := i
			for j < len(s) && !unicode.IsSpace(rune(s[j])) && !strings.ContainsRune("(),<>=", rune(s[j])) {
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out
}

// reservedWords holds the DynamoDB reserved words iotbench's attribute
// names could collide with (aws-iot.md §6.1); the full list is longer.
var reservedWords = map[string]bool{"TIMESTAMP": true, "DATA": true, "NAME": true, "STATUS": true, "VALUE": true, "TTL": true, "DATE": true, "TIME": true}
