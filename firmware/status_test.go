package firmware

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// readVectors returns the TAB-split rows of testdata/status/<name>.
func readVectors(t testing.TB, name string) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "status", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rows = append(rows, strings.Split(sc.Text(), "\t"))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatalf("%s: no vectors", name)
	}
	return rows
}

// vectorJSON is the canonical compact JSON of testdata/status/README.md.
func vectorJSON(s Status) string {
	q := func(v string) string {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
	}
	var b strings.Builder
	b.WriteString(`{"event":` + q(s.Event) + `,"fields":[`)
	for i, f := range s.Fields {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("[" + q(f.Key) + "," + q(f.Value) + "]")
	}
	b.WriteString("]}")
	return b.String()
}

func TestStatusValidVectors(t *testing.T) {
	for _, row := range readVectors(t, "valid.txt") {
		if len(row) != 3 {
			t.Fatalf("valid.txt: want 3 columns, got %q", row)
		}
		line, canon, js := row[0], row[1], row[2]
		s, ok, err := ParseStatus(line)
		if !ok || err != nil {
			t.Errorf("%q: ok=%v err=%v", line, ok, err)
			continue
		}
		if got := s.String(); got != canon {
			t.Errorf("%q: String()=%q, want %q", line, got, canon)
		}
		if got := vectorJSON(s); got != js {
			t.Errorf("%q: parse=%s, want %s", line, got, js)
		}
		s2, ok, err := ParseStatus(canon)
		if !ok || err != nil || !reflect.DeepEqual(s, s2) {
			t.Errorf("%q: canonical form parses differently: %+v %v", canon, s2, err)
		}
		// CR LF endings are accepted.
		if s3, ok, err := ParseStatus(line + "\r\n"); !ok || err != nil || !reflect.DeepEqual(s, s3) {
			t.Errorf("%q + CRLF: %+v %v", line, s3, err)
		}
	}
}

func TestStatusInvalidVectors(t *testing.T) {
	for _, row := range readVectors(t, "invalid.txt") {
		if len(row) != 2 {
			t.Fatalf("invalid.txt: want 2 columns, got %q", row)
		}
		s, ok, err := ParseStatus(row[0])
		if !ok || err == nil {
			t.Errorf("%q (%s): ok=%v err=%v parse=%+v", row[0], row[1], ok, err, s)
			continue
		}
		if !strings.HasPrefix(err.Error(), "malformed #IB status line at byte ") {
			t.Errorf("%q: error %q", row[0], err)
		}
	}
}

func TestStatusNotIB(t *testing.T) {
	rows := readVectors(t, "notib.txt")
	rows = append(rows, []string{""}, []string{"\r\n"})
	for _, row := range rows {
		if len(row) != 1 {
			t.Fatalf("notib.txt: want 1 column, got %q", row)
		}
		if s, ok, err := ParseStatus(row[0]); ok || err != nil || !reflect.DeepEqual(s, Status{}) {
			t.Errorf("%q: ok=%v err=%v", row[0], ok, err)
		}
	}
}

func TestStatusControlBytes(t *testing.T) {
	for _, line := range []string{"#IB x k=\"a\tb\"", "#IB x k=a\rb", "#IB x\x00", "#IB x k=\x7f", "#IB x k=\"\n\""} {
		if _, ok, err := ParseStatus(line); !ok || err == nil {
			t.Errorf("%q: ok=%v err=%v", line, ok, err)
		}
	}
}

func TestStatusStringQuoting(t *testing.T) {
	s := Status{Event: "x", Fields: []Field{
		{"a", "plain"}, {"b", ""}, {"c", "two words"}, {"d", `q"b\`}, {"e", "line\r\nbreak\t"}, {"f", "Café"}, {"g", `\`},
	}}
	want := `#IB x a=plain b="" c="two words" d="q\"b\\" e="line  break " f="Café" g=\`
	if got := s.String(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	back, ok, err := ParseStatus(want)
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if v, _ := back.Str("e"); v != "line  break " {
		t.Fatalf("e=%q", v)
	}
}

func TestStatusAccessors(t *testing.T) {
	s, _, err := ParseStatus(`#IB tls ok=0 code=-1000 text="Unable to allocate memory for SSL structures and buffers." mfln=true big=99999999999999999999 f=1.5`)
	if err != nil {
		t.Fatal(err)
	}
	if s.Event != EventTLS {
		t.Fatal(s.Event)
	}
	if v, ok := s.Int(KeyCode); !ok || v != -1000 {
		t.Errorf("code: %d %v", v, ok)
	}
	if v, ok := s.Bool(KeyOK); !ok || v {
		t.Errorf("ok: %v %v", v, ok)
	}
	if v, ok := s.Bool(KeyMFLN); !ok || !v {
		t.Errorf("mfln: %v %v", v, ok)
	}
	if v, ok := s.Str(KeyText); !ok || v != "Unable to allocate memory for SSL structures and buffers." {
		t.Errorf("text: %q %v", v, ok)
	}
	for _, k := range []string{"big", "f", "text", "missing"} {
		if _, ok := s.Int(k); ok {
			t.Errorf("Int(%s) should fail", k)
		}
	}
	for _, k := range []string{"code", "missing"} {
		if _, ok := s.Bool(k); ok {
			t.Errorf("Bool(%s) should fail", k)
		}
	}
	if _, ok := s.Str("missing"); ok || s.Has("missing") || !s.Has(KeyCode) {
		t.Error("missing key reported present")
	}
}

func TestStatusErrorNamesTheFix(t *testing.T) {
	_, _, err := ParseStatus(`#IB tls text="unterminated`)
	if err == nil || !strings.Contains(err.Error(), `close it with '"'`) {
		t.Fatal(err)
	}
	_, _, err = ParseStatus(`#IB wifi status=3 status=4`)
	if err == nil || !strings.Contains(err.Error(), "print each key once") {
		t.Fatal(err)
	}
}

func FuzzParseStatus(f *testing.F) {
	for _, name := range []string{"valid.txt", "invalid.txt", "notib.txt"} {
		for _, row := range readVectors(f, name) {
			f.Add(row[0])
		}
	}
	f.Fuzz(func(t *testing.T, line string) {
		s, ok, err := ParseStatus(line)
		if !ok {
			if err != nil || !reflect.DeepEqual(s, Status{}) {
				t.Fatalf("not-#IB with result: %+v %v", s, err)
			}
			return
		}
		if err != nil {
			return
		}
		out := s.String()
		if strings.ContainsAny(out, "\r\n") {
			t.Fatalf("String has a line break: %q", out)
		}
		s2, ok2, err2 := ParseStatus(out)
		if !ok2 || err2 != nil || !reflect.DeepEqual(s, s2) {
			t.Fatalf("round trip of %q via %q: %+v %v", line, out, s2, err2)
		}
		if s2.String() != out {
			t.Fatalf("canonical form not stable: %q -> %q", out, s2.String())
		}
	})
}
