package firmware

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSketchHostTests compiles the reference sketch's logic (the plain C++
// under arduino/iotbench/src) with its host tests and runs them against
// the same vectors as the Go tests: both sides must agree on every one.
// g++ is part of every build machine of this project (CI installs it); a
// missing compiler is a failure, not a skip.
func TestSketchHostTests(t *testing.T) {
	out := runSketchHostTests(t)
	if !strings.Contains(out, "config decoded from: strict reader") {
		t.Fatalf("the host build without ArduinoJson did not decode with the strict reader:\n%s", out)
	}
}

// TestSketchHostTestsArduinoJSON builds the same tests the way the board
// does, with ArduinoJson 7 decoding config.json and writing payloads
// (ib_json_view.h). No registry this project builds from carries
// ArduinoJson, so the test needs a copy named by ARDUINOJSON_SRC (its src
// folder, the one with ArduinoJson.h); see firmware/arduino/README.md.
func TestSketchHostTestsArduinoJSON(t *testing.T) {
	dir := os.Getenv("ARDUINOJSON_SRC")
	if dir == "" {
		t.Skip("ARDUINOJSON_SRC is not set: the board's ArduinoJson build is not checked here (firmware/arduino/README.md says how)")
	}
	if _, err := os.Stat(filepath.Join(dir, "ArduinoJson.h")); err != nil {
		t.Fatalf("ARDUINOJSON_SRC=%s has no ArduinoJson.h: point it at the src folder of ArduinoJson 7", dir)
	}
	out := runSketchHostTests(t, "-DIB_ARDUINOJSON=1", "-I"+dir)
	if !regexp.MustCompile(`config decoded from: ArduinoJson 7\.`).MatchString(out) {
		t.Fatalf("the build did not decode with ArduinoJson 7:\n%s", out)
	}
}

// runSketchHostTests builds the host tests with extra compiler flags, runs
// them on testdata and returns their output; any failed check fails t.
func runSketchHostTests(t *testing.T, flags ...string) string {
	t.Helper()
	cxx := os.Getenv("CXX")
	if cxx == "" {
		cxx = "g++"
	}
	if _, err := exec.LookPath(cxx); err != nil {
		t.Fatalf("%s not found: install it (Debian: apt-get install g++) — the sketch's host tests need a C++17 compiler", cxx)
	}
	root := filepath.Join("arduino", "iotbench")
	srcs, _ := filepath.Glob(filepath.Join(root, "src", "*.cpp"))
	if len(srcs) == 0 {
		t.Fatal("no sketch sources")
	}
	bin := filepath.Join(t.TempDir(), "host_test")
	args := append([]string{"-std=c++17", "-O0", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined", "-o", bin}, flags...)
	args = append(args, srcs...)
	args = append(args, filepath.Join(root, "test", "host_test.cpp"))
	if out, err := exec.Command(cxx, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", cxx, strings.Join(args, " "), err, out)
	}
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, testdata).CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("host tests: %v", err)
	}
	m := regexp.MustCompile(`(?m)^(\d+) passed, 0 failed$`).FindSubmatch(out)
	if m == nil || string(m[1]) == "0" {
		t.Fatalf("host tests ran no check: %s", out)
	}
	return string(out)
}
