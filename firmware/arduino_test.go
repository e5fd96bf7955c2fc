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
	args := append([]string{"-std=c++17", "-O0", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined", "-o", bin}, srcs...)
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
}
