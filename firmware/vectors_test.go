package firmware

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readTSV returns the TAB-split rows of testdata/<name>, checking that
// each has cols columns.
func readTSV(t testing.TB, name string, cols int) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		row := strings.Split(sc.Text(), "\t")
		if len(row) != cols {
			t.Fatalf("%s: want %d columns, got %d in %q", name, cols, len(row), sc.Text())
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatalf("%s: no vectors", name)
	}
	return rows
}
