package emulator

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
)

type role struct {
	Name    string            `json:"name"`
	ARN     string            `json:"arn"`
	ID      string            `json:"id"`
	Path    string            `json:"path"`
	Trust   string            `json:"trust"`
	Desc    string            `json:"desc,omitempty"`
	Created time.Time         `json:"created"`
	Inline  map[string]string `json:"inline"`
	// Ready is when IoT can assume the role (IAM propagation).
	Ready time.Time `json:"ready"`
}

var roleNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)

type queryOp func(action string, form url.Values) (string, *apiError)

// serveQuery handles the Query protocol: a form body with Action=…, and
// an XML answer wrapped in <ActionResponse><ActionResult>.
func (s *Server) serveQuery(w http.ResponseWriter, c *call, service string, op queryOp) {
	form, err := url.ParseQuery(string(c.body))
	if err != nil {
		s.writeError(w, service, errf(400, "MalformedInput", "body is not a form"))
		return
	}
	action := form.Get("Action")
	if e := s.fault(service + ":" + action); e != nil {
		s.writeError(w, service, e)
		return
	}
	result, e := op(action, form)
	if e != nil {
		s.writeError(w, service, e)
		return
	}
	s.saveLocked()
	ns := "https://iam.amazonaws.com/doc/2010-05-08/"
	if service == "sts" {
		ns = "https://sts.amazonaws.com/doc/2011-06-15/"
	}
	w.Header().Set("Content-Type", "text/xml")
	var b strings.Builder
	fmt.Fprintf(&b, `<%sResponse xmlns="%s">`, action, ns)
	if result != "" {
		fmt.Fprintf(&b, "<%sResult>%s</%sResult>", action, result, action)
	}
	fmt.Fprintf(&b, "<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>", s.requestID(), action)
	w.Write([]byte(b.String()))
}

func (s *Server) stsOp(action string, form url.Values) (string, *apiError) {
	if action != "GetCallerIdentity" {
		return "", errf(400, "InvalidAction", "the emulator does not implement sts:%s", action)
	}
	return fmt.Sprintf("<Arn>%s</Arn><UserId>AIDAIOTBENCHEMULATOR</UserId><Account>%s</Account>", UserARN, s.st.Account), nil
}

func (r *role) xml() string {
	desc := ""
	if r.Desc != "" {
		desc = "<Description>" + xmlEscape(r.Desc) + "</Description>"
	}
	return fmt.Sprintf("<Role><Path>%s</Path><RoleName>%s</RoleName><RoleId>%s</RoleId><Arn>%s</Arn><CreateDate>%s</CreateDate><AssumeRolePolicyDocument>%s</AssumeRolePolicyDocument>%s</Role>",
		xmlEscape(r.Path), xmlEscape(r.Name), r.ID, xmlEscape(r.ARN), r.Created.UTC().Format(time.RFC3339), xmlEscape(url.QueryEscape(r.Trust)), desc)
}

func (s *Server) iamOp(action string, form url.Values) (string, *apiError) {
	name := form.Get("RoleName")
	r := s.st.Roles[name]
	noRole := errf(404, "NoSuchEntity", "The role with name %s cannot be found.", name)
	switch action {
	case "CreateRole":
		if !roleNameRE.MatchString(name) {
			return "", errf(400, "ValidationError", "1 validation error detected: Value '%s' at 'roleName' failed to satisfy constraint", name)
		}
		if r != nil {
			return "", errf(409, "EntityAlreadyExists", "Role with name %s already exists.", name)
		}
		trust := form.Get("AssumeRolePolicyDocument")
		if !strings.HasPrefix(strings.TrimSpace(trust), "{") {
			return "", errf(400, "MalformedPolicyDocument", "This policy contains invalid Json")
		}
		path := form.Get("Path")
		if path == "" {
			path = "/"
		}
		r = &role{Name: name, Path: path, Trust: trust, Desc: form.Get("Description"), Created: s.now(),
			ID: "AROA" + strings.ToUpper(strings.ReplaceAll(s.uuid(), "-", ""))[:17], Inline: map[string]string{},
			ARN: "arn:aws:iam::" + s.st.Account + ":role" + path + name, Ready: s.now().Add(s.RolePropagation)}
		s.st.Roles[name] = r
		return r.xml(), nil
	case "GetRole":
		if r == nil {
			return "", noRole
		}
		return r.xml(), nil
	case "DeleteRole":
		if r == nil {
			return "", noRole
		}
		if len(r.Inline) > 0 {
			return "", errf(409, "DeleteConflict", "Cannot delete entity, must delete policies first.")
		}
		delete(s.st.Roles, name)
		return "", nil
	case "PutRolePolicy":
		if r == nil {
			return "", noRole
		}
		doc := form.Get("PolicyDocument")
		if !strings.HasPrefix(strings.TrimSpace(doc), "{") {
			return "", errf(400, "MalformedPolicyDocument", "This policy contains invalid Json")
		}
		r.Inline[form.Get("PolicyName")] = doc
		r.Ready = s.now().Add(s.RolePropagation)
		return "", nil
	case "GetRolePolicy":
		if r == nil {
			return "", noRole
		}
		pn := form.Get("PolicyName")
		doc, ok := r.Inline[pn]
		if !ok {
			return "", errf(404, "NoSuchEntity", "The role policy with name %s cannot be found.", pn)
		}
		return fmt.Sprintf("<RoleName>%s</RoleName><PolicyName>%s</PolicyName><PolicyDocument>%s</PolicyDocument>", xmlEscape(name), xmlEscape(pn), xmlEscape(url.QueryEscape(doc))), nil
	case "DeleteRolePolicy":
		if r == nil {
			return "", noRole
		}
		pn := form.Get("PolicyName")
		if _, ok := r.Inline[pn]; !ok {
			return "", errf(404, "NoSuchEntity", "The role policy with name %s cannot be found.", pn)
		}
		delete(r.Inline, pn)
		return "", nil
	case "ListRolePolicies":
		if r == nil {
			return "", noRole
		}
		var names []string
		for n := range r.Inline {
			names = append(names, n)
		}
		sort.Strings(names)
		var b strings.Builder
		b.WriteString("<PolicyNames>")
		for _, n := range names {
			b.WriteString("<member>" + xmlEscape(n) + "</member>")
		}
		b.WriteString("</PolicyNames><IsTruncated>false</IsTruncated>")
		return b.String(), nil
	}
	return "", errf(400, "InvalidAction", "the emulator does not implement iam:%s", action)
}
