package xdg

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDataDirOrder(t *testing.T) {
	tmp := t.TempDir()
	env := map[string]string{"HOME": filepath.Join(tmp, "home")}
	get := func(k string) string { return env[k] }
	dir, err := dataDir(get)
	if err != nil || dir != filepath.Join(tmp, "home", ".local", "share", "iotbench") {
		t.Fatalf("HOME only: %q %v", dir, err)
	}
	env["XDG_DATA_HOME"] = "relative/ignored"
	if dir, _ := dataDir(get); dir != filepath.Join(tmp, "home", ".local", "share", "iotbench") {
		t.Fatalf("relative XDG_DATA_HOME must be ignored (spec), got %q", dir)
	}
	env["XDG_DATA_HOME"] = filepath.Join(tmp, "xdg")
	if dir, _ := dataDir(get); dir != filepath.Join(tmp, "xdg", "iotbench") {
		t.Fatalf("XDG_DATA_HOME: %q", dir)
	}
	env[EnvDataDir] = filepath.Join(tmp, "override")
	dir, err = dataDir(get)
	if err != nil || dir != filepath.Join(tmp, "override") {
		t.Fatalf("override: %q %v", dir, err)
	}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("mode %v %v", st.Mode(), err)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "key.der")
	if err := WriteFileAtomic(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(p, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	st, _ := os.Stat(p)
	if string(b) != "two" || st.Mode().Perm() != 0o600 {
		t.Fatalf("got %q mode %v", b, st.Mode())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temporary files left behind: %v", ents)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "x"), nil, 0o600); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}
