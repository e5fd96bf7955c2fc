package firmware

import (
	"strconv"
	"testing"
)

func TestESP32ResetReasonVectors(t *testing.T) {
	rows := readTSV(t, "reset32.txt", 3)
	for _, r := range rows {
		n, err := strconv.Atoi(r[0])
		if err != nil {
			t.Fatal(err)
		}
		name, text := ESP32ResetReason(n)
		if name != r[1] || text != r[2] {
			t.Errorf("ESP32ResetReason(%d) = %s, %s; want %s, %s", n, name, text, r[1], r[2])
		}
	}
	if len(rows) < len(esp32ResetReasons) {
		t.Errorf("%d vectors for %d reasons", len(rows), len(esp32ResetReasons))
	}
	for _, c := range []struct {
		arch string
		want bool
	}{{"esp32", true}, {"esp32s3", true}, {"esp32c6", true}, {ArchESP8266, false}, {"", false}, {"esp3", false}} {
		if IsESP32Arch(c.arch) != c.want {
			t.Errorf("IsESP32Arch(%q) = %v", c.arch, !c.want)
		}
	}
}
