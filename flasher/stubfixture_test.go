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
	return writeStubAt(t, "esp8266.json", 0x4010D000, 0x2054, 0x4010D004, 0x3FFFACAC, 0x300)
}

// writeESP32TestStub is the same at the ESP32 legacy stub's addresses
// (§10.2: text 0x400BE000, 3540 bytes; data 0x3FFDEBAC, 156 bytes; entry
// 0x400BE658).
func writeESP32TestStub(t testing.TB) string {
	return writeStubAt(t, "esp32.json", 0x400BE000, 3540, 0x400BE658, 0x3FFDEBAC, 156)
}

func writeStubAt(t testing.TB, name string, textStart uint32, textLen int, entry, dataStart uint32, dataLen int) string {
	t.Helper()
	text := make([]byte, textLen)
	for i := range text {
		text[i] = byte(i * 7)
	}
	j, _ := json.Marshal(map[string]any{
		"entry":      entry,
		"text":       base64.StdEncoding.EncodeToString(text),
		"text_start": textStart,
		"data":       base64.StdEncoding.EncodeToString(make([]byte, dataLen)),
		"data_start": dataStart,
	})
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, j, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
