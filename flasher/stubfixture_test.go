package flasher_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// writeTestStub writes a stub JSON in esptool's format with placeholder
// code (the virtual board never executes it) at the ESP8266 legacy stub's
// addresses (§10.2), and returns its path.
func writeTestStub(t testing.TB) string {
	t.Helper()
	text := make([]byte, 0x2054)
	for i := range text {
		text[i] = byte(i * 7)
	}
	data := make([]byte, 0x300)
	j, _ := json.Marshal(map[string]any{
		"entry":      0x4010D004,
		"text":       base64.StdEncoding.EncodeToString(text),
		"text_start": 0x4010D000,
		"data":       base64.StdEncoding.EncodeToString(data),
		"data_start": 0x3FFFACAC,
		"bss_start":  0x3FFFAC00,
	})
	p := filepath.Join(t.TempDir(), "esp8266.json")
	if err := os.WriteFile(p, j, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
