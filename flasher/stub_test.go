package flasher

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotbench/iotbench/flasher/target"
)

func TestParseStubErrors(t *testing.T) {
	cases := map[string]string{
		`not json`: "not a stub JSON file",
		`{"text": "AAAA", "text_start": 1073741824}`:                                      "lacks entry",
		`{"entry": 1, "text": "@@@", "text_start": 0}`:                                    "not valid base64",
		`{"entry": 1073741830, "text": "AAAA", "text_start": 1073741824}`:                 "outside its text segment",
		`{"entry": 1073741824, "text": "", "text_start": 1073741824}`:                     "empty text",
		`{"entry": 1073741824, "text": "AAAA", "text_start": 1073741824, "data": "AA=="}`: "no data_start",
		`{"entry": 99999999999, "text": "AAAA", "text_start": 1073741824}`:                "32-bit",
	}
	for in, want := range cases {
		_, err := ParseStub([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", in, err, want)
		}
	}
	s, err := ParseStub([]byte(`{"entry": 1074843652, "text": "AAAAAAAA", "text_start": 1074843648, "data": "AAA=", "data_start": 1073720492, "bss_start": 1073643776}`))
	if err != nil || s.Entry != 0x4010D004 || len(s.Text) != 6 || len(s.Data) != 2 {
		t.Fatalf("valid stub: %+v %v", s, err)
	}
}

// FindStub looks where esptool keeps its stubs across releases (§10.2).
func TestFindStubLayouts(t *testing.T) {
	c, _ := target.ByName("esp8266")
	good := `{"entry": 1074843652, "text": "AAAAAAAA", "text_start": 1074843648}`
	for _, rel := range []string{"targets/stub_flasher/1/esp8266.json", "targets/stub_flasher/stub_flasher_8266.json"} {
		dir := t.TempDir()
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(good), 0o644)
		s, err := FindStub(c, []string{dir})
		if err != nil || s.Path != p || !strings.Contains(s.Source, dir) {
			t.Fatalf("%s: %v %+v", rel, err, s)
		}
	}
	if _, err := FindStub(c, nil); err == nil || !strings.Contains(err.Error(), "no esptool installation") {
		t.Fatalf("no dirs: %v", err)
	}
	bad := t.TempDir()
	p := filepath.Join(bad, "targets/stub_flasher/1/esp8266.json")
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, []byte("{}"), 0o644)
	if _, err := FindStub(c, []string{bad}); err == nil || !strings.Contains(err.Error(), "invalid") {
		t.Fatalf("invalid stub: %v", err)
	}
}

func FuzzParseStub(f *testing.F) {
	f.Add([]byte(`{"entry": 1074843652, "text": "AAAAAAAA", "text_start": 1074843648, "data": "AAA=", "data_start": 1073720492}`))
	f.Add([]byte(`{"entry": -1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStub(b)
		if err != nil {
			return
		}
		if len(s.Text) == 0 || s.Entry < s.TextStart || s.Entry >= s.TextStart+uint32(len(s.Text)) {
			t.Fatalf("accepted an invalid stub: %+v", s)
		}
	})
}
