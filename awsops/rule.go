package awsops

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotbench/iotbench/firmware"
)

// The telemetry store (aws-iot.md §6): one item per message, partition key
// the thing name, sort key the rules engine's receive time in ms. The
// attribute names avoid DynamoDB's reserved words ("timestamp", "name"…).
const (
	DefaultTable = "iotbench-telemetry"
	DefaultRule  = "iotbench_telemetry"
	DefaultRole  = "iotbench-telemetry-rule"
	// AttrThing is the partition key: the thing name, from topic(2).
	AttrThing = "device"
	// AttrTime is the sort key: epoch milliseconds, from timestamp().
	AttrTime = "ts"
	// AttrExpires is the TTL attribute, epoch seconds.
	AttrExpires = "expires_at"
	// SQLVersion is the rules engine version the rule asks for.
	SQLVersion = "2016-03-23"
)

var ruleNameRE = regexpMust(`^[a-zA-Z0-9_]{1,128}$`)

// RuleSQL is the telemetry rule's statement. topic() counts levels from
// 1, so the thing name of iotbench/<thing>/telemetry is topic(2); it is
// taken from the topic, which the device policy pins to the thing's own
// name, rather than from the payload, which a board could forge.
func RuleSQL(ttl time.Duration) string {
	sql := fmt.Sprintf("SELECT *, topic(%d) AS %s, timestamp() AS %s", firmware.ThingLevel, AttrThing, AttrTime)
	if ttl > 0 {
		sql += fmt.Sprintf(", floor(timestamp() / 1000) + %d AS %s", int64(ttl/time.Second), AttrExpires)
	}
	return sql + " FROM '" + firmware.TelemetryFilter + "'"
}

// RuleOptions name what CreateRule sets up.
type RuleOptions struct {
	Table, Rule, Role string
	// TTL, when set, makes items expire that long after they arrive.
	TTL     time.Duration
	OnEvent func(Event)
}

// RuleResult is what exists afterwards.
type RuleResult struct {
	Rule     string `json:"rule"`
	RuleARN  string `json:"rule_arn"`
	SQL      string `json:"sql"`
	Table    string `json:"table"`
	TableARN string `json:"table_arn"`
	Role     string `json:"role"`
	RoleARN  string `json:"role_arn"`
}

func (o *RuleOptions) defaults() error {
	if o.Table == "" {
		o.Table = DefaultTable
	}
	if o.Rule == "" {
		o.Rule = DefaultRule
	}
	if o.Role == "" {
		o.Role = DefaultRole
	}
	if !ruleNameRE.MatchString(o.Rule) {
		return inputErrorf("rule name %q: AWS allows only letters, digits and '_' (no '-'), at most 128", o.Rule)
	}
	if len(o.Table) < 3 || len(o.Table) > 255 || strings.Trim(o.Table, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != "" {
		return inputErrorf("table name %q: 3–255 characters from a-z A-Z 0-9 _ . -", o.Table)
	}
	return nil
}

// CreateRule sets up telemetry storage: the table (on demand), the role
// the rule acts as, and the rule itself. Each exists-or-create check runs
// first, so it can be run again; a changed rule is replaced.
func (c *Client) CreateRule(ctx context.Context, o RuleOptions) (*RuleResult, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	emit := func(step, status, format string, args ...any) {
		if o.OnEvent != nil {
			o.OnEvent(Event{Step: step, Status: status, Message: fmt.Sprintf(format, args...)})
		}
	}
	id, err := c.Identity(ctx)
	if err != nil {
		return nil, err
	}
	res := &RuleResult{Rule: o.Rule, Table: o.Table, Role: o.Role, SQL: RuleSQL(o.TTL)}
	if res.TableARN, err = c.ensureTable(ctx, o, emit); err != nil {
		return nil, err
	}
	if res.RoleARN, err = c.ensureRole(ctx, id, o, res.TableARN, emit); err != nil {
		return nil, err
	}
	payload := &iottypes.TopicRulePayload{
		Sql:              aws.String(res.SQL),
		Description:      aws.String("iotbench: board telemetry into DynamoDB " + o.Table),
		AwsIotSqlVersion: aws.String(SQLVersion),
		RuleDisabled:     aws.Bool(false),
		Actions: []iottypes.Action{{DynamoDBv2: &iottypes.DynamoDBv2Action{
			RoleArn: aws.String(res.RoleARN), PutItem: &iottypes.PutItemInput{TableName: aws.String(o.Table)}}}},
	}
	res.RuleARN = fmt.Sprintf("arn:%s:iot:%s:%s:rule/%s", id.Partition, id.Region, id.Account, o.Rule)
	get, getErr := c.iot.GetTopicRule(ctx, &iot.GetTopicRuleInput{RuleName: aws.String(o.Rule)})
	switch {
	case getErr == nil:
		if get.RuleArn != nil {
			res.RuleARN = aws.ToString(get.RuleArn)
		}
		if sameRule(get.Rule, payload) {
			emit("rule", "exists", "rule %s is up to date", o.Rule)
			return res, nil
		}
		err := c.withRoleRetry(ctx, emit, func() error {
			_, err := c.iot.ReplaceTopicRule(ctx, &iot.ReplaceTopicRuleInput{RuleName: aws.String(o.Rule), TopicRulePayload: payload})
			return err
		})
		if err != nil {
			return nil, c.classify("iot:ReplaceTopicRule", err)
		}
		emit("rule", "updated", "replaced rule %s: %s", o.Rule, res.SQL)
		return res, nil
	case isNotFound(getErr) || isCode(getErr, "UnauthorizedException"):
		// AWS may answer a missing rule with UnauthorizedException; the
		// create below tells the two apart.
	default:
		return nil, c.classify("iot:GetTopicRule", getErr)
	}
	err = c.withRoleRetry(ctx, emit, func() error {
		_, err := c.iot.CreateTopicRule(ctx, &iot.CreateTopicRuleInput{RuleName: aws.String(o.Rule), TopicRulePayload: payload})
		return err
	})
	if isCode(err, "ResourceAlreadyExistsException") && getErr != nil {
		return nil, c.classify("iot:GetTopicRule", getErr)
	}
	if err != nil {
		return nil, c.classify("iot:CreateTopicRule", err)
	}
	emit("rule", "done", "created rule %s: %s", o.Rule, res.SQL)
	return res, nil
}

func sameRule(r *iottypes.TopicRule, p *iottypes.TopicRulePayload) bool {
	if r == nil || aws.ToString(r.Sql) != aws.ToString(p.Sql) || aws.ToString(r.AwsIotSqlVersion) != aws.ToString(p.AwsIotSqlVersion) ||
		aws.ToBool(r.RuleDisabled) || len(r.Actions) != 1 || r.Actions[0].DynamoDBv2 == nil {
		return false
	}
	a, b := r.Actions[0].DynamoDBv2, p.Actions[0].DynamoDBv2
	return aws.ToString(a.RoleArn) == aws.ToString(b.RoleArn) && a.PutItem != nil &&
		aws.ToString(a.PutItem.TableName) == aws.ToString(b.PutItem.TableName)
}

// withRoleRetry retries while IoT cannot assume a role IAM has not
// propagated yet (aws-iot.md §6.3).
func (c *Client) withRoleRetry(ctx context.Context, emit func(step, status, format string, args ...any), call func() error) error {
	delay := c.opts.RolePoll
	deadline := c.now().Add(c.opts.RoleWait)
	for {
		err := call()
		if err == nil || !isCode(err, "InvalidRequestException") || !strings.Contains(strings.ToLower(err.Error()), "assume") || c.now().After(deadline) {
			return err
		}
		emit("rule", "waiting", "IAM has not propagated the role yet; retrying in %s", delay)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 10*time.Second)
	}
}

func (c *Client) ensureTable(ctx context.Context, o RuleOptions, emit func(step, status, format string, args ...any)) (string, error) {
	out, err := c.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(o.Table)})
	switch {
	case err == nil:
		if !timeSeriesSchema(out.Table) {
			return "", inputErrorf("table %s exists with another key schema: iotbench needs partition key %s (S) and sort key %s (N); pick another --table", o.Table, AttrThing, AttrTime)
		}
		emit("table", "exists", "table %s exists", o.Table)
	case isNotFound(err):
		_, err = c.ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:   aws.String(o.Table),
			BillingMode: ddbtypes.BillingModePayPerRequest,
			KeySchema: []ddbtypes.KeySchemaElement{
				{AttributeName: aws.String(AttrThing), KeyType: ddbtypes.KeyTypeHash},
				{AttributeName: aws.String(AttrTime), KeyType: ddbtypes.KeyTypeRange}},
			AttributeDefinitions: []ddbtypes.AttributeDefinition{
				{AttributeName: aws.String(AttrThing), AttributeType: ddbtypes.ScalarAttributeTypeS},
				{AttributeName: aws.String(AttrTime), AttributeType: ddbtypes.ScalarAttributeTypeN}},
		})
		if err != nil && !isCode(err, "ResourceInUseException") {
			return "", c.classify("dynamodb:CreateTable", err)
		}
		w := dynamodb.NewTableExistsWaiter(c.ddb, func(wo *dynamodb.TableExistsWaiterOptions) {
			wo.MinDelay, wo.MaxDelay = time.Second, 10*time.Second
		})
		if out, err = w.WaitForOutput(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(o.Table)}, 5*time.Minute); err != nil {
			return "", c.classify("dynamodb:DescribeTable", err)
		}
		emit("table", "done", "created table %s (on-demand; key %s + %s)", o.Table, AttrThing, AttrTime)
	default:
		return "", c.classify("dynamodb:DescribeTable", err)
	}
	if o.TTL > 0 {
		ttl, err := c.ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(o.Table)})
		if err != nil {
			return "", c.classify("dynamodb:DescribeTimeToLive", err)
		}
		d := ttl.TimeToLiveDescription
		if d == nil || d.TimeToLiveStatus != ddbtypes.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != AttrExpires {
			_, err := c.ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(o.Table),
				TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{Enabled: aws.Bool(true), AttributeName: aws.String(AttrExpires)}})
			if err != nil && !isCode(err, "ValidationException") {
				return "", c.classify("dynamodb:UpdateTimeToLive", err)
			}
			emit("table", "updated", "items expire %s after they arrive (TTL on %s)", o.TTL, AttrExpires)
		}
	}
	return aws.ToString(out.Table.TableArn), nil
}

func timeSeriesSchema(t *ddbtypes.TableDescription) bool {
	if t == nil {
		return false
	}
	types := map[string]ddbtypes.ScalarAttributeType{}
	for _, d := range t.AttributeDefinitions {
		types[aws.ToString(d.AttributeName)] = d.AttributeType
	}
	var hash, rng string
	for _, k := range t.KeySchema {
		switch k.KeyType {
		case ddbtypes.KeyTypeHash:
			hash = aws.ToString(k.AttributeName)
		case ddbtypes.KeyTypeRange:
			rng = aws.ToString(k.AttributeName)
		}
	}
	return hash == AttrThing && rng == AttrTime && types[AttrThing] == ddbtypes.ScalarAttributeTypeS && types[AttrTime] == ddbtypes.ScalarAttributeTypeN
}

func (c *Client) ensureRole(ctx context.Context, id *Identity, o RuleOptions, tableARN string, emit func(step, status, format string, args ...any)) (string, error) {
	trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"iot.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":%q},"ArnLike":{"aws:SourceArn":%q}}}]}`,
		id.Account, fmt.Sprintf("arn:%s:iot:%s:%s:rule/%s", id.Partition, id.Region, id.Account, o.Rule))
	perms := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:PutItem","Resource":%q}]}`, tableARN)
	var arn string
	get, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(o.Role)})
	switch {
	case err == nil:
		arn = aws.ToString(get.Role.Arn)
		emit("role", "exists", "role %s exists", o.Role)
	case isNotFound(err):
		out, err := c.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(o.Role), AssumeRolePolicyDocument: aws.String(trust),
			Description: aws.String("Lets the iotbench telemetry rule write to DynamoDB")})
		if isCode(err, "EntityAlreadyExists") {
			get, err2 := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(o.Role)})
			if err2 != nil {
				return "", c.classify("iam:GetRole", err2)
			}
			arn = aws.ToString(get.Role.Arn)
		} else if err != nil {
			return "", c.classify("iam:CreateRole", err)
		} else {
			arn = aws.ToString(out.Role.Arn)
			emit("role", "done", "created role %s (trusted by iot.amazonaws.com for rule %s only)", o.Role, o.Rule)
		}
	default:
		return "", c.classify("iam:GetRole", err)
	}
	const inline = "iotbench-telemetry-putitem"
	cur, err := c.iam.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(o.Role), PolicyName: aws.String(inline)})
	if err == nil {
		// IAM returns the document URL-encoded.
		doc, _ := url.QueryUnescape(aws.ToString(cur.PolicyDocument))
		if sameJSON(doc, perms) {
			return arn, nil
		}
	} else if !isNotFound(err) {
		return "", c.classify("iam:GetRolePolicy", err)
	}
	if _, err := c.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(o.Role), PolicyName: aws.String(inline), PolicyDocument: aws.String(perms)}); err != nil {
		return "", c.classify("iam:PutRolePolicy", err)
	}
	emit("role", "updated", "role %s may put items into %s, nothing else", o.Role, o.Table)
	return arn, nil
}

func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return string(ja) == string(jb)
}

// HistoryOptions select a thing's readings.
type HistoryOptions struct {
	Thing        string
	Table        string
	Since, Until time.Time
	// Limit caps the number of readings (newest first); 0 means all.
	Limit int
}

// Reading is one stored message.
type Reading struct {
	Thing  string         `json:"thing"`
	Time   time.Time      `json:"time"`
	Fields map[string]any `json:"fields"`
}

// History reads a thing's readings in a time range, newest first.
func (c *Client) History(ctx context.Context, o HistoryOptions) ([]Reading, error) {
	if err := ValidateThingName(o.Thing); err != nil {
		return nil, err
	}
	if o.Table == "" {
		o.Table = DefaultTable
	}
	if o.Until.IsZero() {
		o.Until = c.now()
	}
	if o.Until.Before(o.Since) {
		return nil, inputErrorf("the range ends (%s) before it starts (%s)", o.Until.Format(time.RFC3339), o.Since.Format(time.RFC3339))
	}
	in := &dynamodb.QueryInput{
		TableName:                aws.String(o.Table),
		KeyConditionExpression:   aws.String("#d = :d AND #t BETWEEN :from AND :to"),
		ExpressionAttributeNames: map[string]string{"#d": AttrThing, "#t": AttrTime},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":d":    &ddbtypes.AttributeValueMemberS{Value: o.Thing},
			":from": &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(o.Since.UnixMilli(), 10)},
			":to":   &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(o.Until.UnixMilli(), 10)},
		},
		ScanIndexForward: aws.Bool(false),
	}
	if o.Limit > 0 {
		in.Limit = aws.Int32(int32(min(o.Limit, 1000)))
	}
	var out []Reading
	p := dynamodb.NewQueryPaginator(c.ddb, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if isNotFound(err) {
				id, _ := c.Identity(ctx)
				region := c.cfg.Region
				if id != nil {
					region = id.Region
				}
				return nil, &NotFoundError{What: "table", Name: o.Table, Region: region, Hint: "create it with `iotbench aws rule create`"}
			}
			return nil, c.classify("dynamodb:Query", err)
		}
		for _, item := range page.Items {
			r := Reading{Thing: o.Thing, Fields: map[string]any{}}
			for k, v := range item {
				switch k {
				case AttrThing:
				case AttrTime:
					if n, ok := v.(*ddbtypes.AttributeValueMemberN); ok {
						ms, _ := strconv.ParseInt(n.Value, 10, 64)
						r.Time = time.UnixMilli(ms).UTC()
					}
				default:
					r.Fields[k] = fromAttributeValue(v)
				}
			}
			out = append(out, r)
			if o.Limit > 0 && len(out) >= o.Limit {
				return out, nil
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out, nil
}

func fromAttributeValue(v ddbtypes.AttributeValue) any {
	switch v := v.(type) {
	case *ddbtypes.AttributeValueMemberS:
		return v.Value
	case *ddbtypes.AttributeValueMemberN:
		return json.Number(v.Value)
	case *ddbtypes.AttributeValueMemberBOOL:
		return v.Value
	case *ddbtypes.AttributeValueMemberNULL:
		return nil
	case *ddbtypes.AttributeValueMemberB:
		return base64.StdEncoding.EncodeToString(v.Value)
	case *ddbtypes.AttributeValueMemberM:
		m := map[string]any{}
		for k, e := range v.Value {
			m[k] = fromAttributeValue(e)
		}
		return m
	case *ddbtypes.AttributeValueMemberL:
		l := []any{}
		for _, e := range v.Value {
			l = append(l, fromAttributeValue(e))
		}
		return l
	case *ddbtypes.AttributeValueMemberSS:
		return v.Value
	case *ddbtypes.AttributeValueMemberNS:
		return v.Value
	}
	return nil
}

// PutReading stores one reading as the rule would (tests against a
// backend whose rules do not run, such as moto, and bench tools).
func (c *Client) PutReading(ctx context.Context, table, thing string, at time.Time, fields map[string]any) error {
	if table == "" {
		table = DefaultTable
	}
	item := map[string]ddbtypes.AttributeValue{
		AttrThing: &ddbtypes.AttributeValueMemberS{Value: thing},
		AttrTime:  &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(at.UnixMilli(), 10)},
	}
	for k, v := range fields {
		item[k] = toAttributeValue(v)
	}
	_, err := c.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item})
	return c.classify("dynamodb:PutItem", err)
}

func toAttributeValue(v any) ddbtypes.AttributeValue {
	switch v := v.(type) {
	case string:
		return &ddbtypes.AttributeValueMemberS{Value: v}
	case bool:
		return &ddbtypes.AttributeValueMemberBOOL{Value: v}
	case nil:
		return &ddbtypes.AttributeValueMemberNULL{Value: true}
	case json.Number:
		return &ddbtypes.AttributeValueMemberN{Value: v.String()}
	case int:
		return &ddbtypes.AttributeValueMemberN{Value: strconv.Itoa(v)}
	case int64:
		return &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
	case float64:
		return &ddbtypes.AttributeValueMemberN{Value: strconv.FormatFloat(v, 'f', -1, 64)}
	case map[string]any:
		m := map[string]ddbtypes.AttributeValue{}
		for k, e := range v {
			m[k] = toAttributeValue(e)
		}
		return &ddbtypes.AttributeValueMemberM{Value: m}
	case []any:
		var l []ddbtypes.AttributeValue
		for _, e := range v {
			l = append(l, toAttributeValue(e))
		}
		return &ddbtypes.AttributeValueMemberL{Value: l}
	}
	return &ddbtypes.AttributeValueMemberS{Value: fmt.Sprint(v)}
}
