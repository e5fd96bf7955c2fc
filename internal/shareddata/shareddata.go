// Package shareddata finds the project's shared test data (shared/testdata:
// reference filesystem images, Amazon's root CAs), which lives beside the
// repository rather than in it. Only tests use it.
package shareddata

import (
	"fmt"
	"os"
	"path/filepath"
)

// Dir returns the absolute path of shared/testdata/sub (sub may be ""),
// found by walking up from the current directory: CI clones the
// repository with shared/ next to it. IOTBENCH_SHARED overrides the search.
func Dir(sub string) (string, error) {
	if root := os.Getenv("IOTBENCH_SHARED"); root != "" {
		return filepath.Join(root, "testdata", sub), nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "shared", "testdata", sub)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("shared/testdata/%s not found in any parent of the working directory: clone the shared test data beside the repository, or set IOTBENCH_SHARED to the shared/ folder", sub)
		}
		dir = parent
	}
}
