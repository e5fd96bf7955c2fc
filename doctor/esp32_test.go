package doctor

import (
	"strings"
	"testing"

	"github.com/iotbench/iotbench/serialmon/decode"
)

// A blank ESP32-C3 after a flash boot (device-side.md §1.8): the ROM finds
// no second-stage bootloader and says "invalid header" over and over. The
// top finding is the image step's, with the line as evidence and what to
// flash as the fix.
func TestESP32InvalidHeaderFinding(t *testing.T) {
	r := Diagnose(Input{Lines: logOf(`
ESP-ROM:esp32c3
rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)
invalid header: 0xffffffff
invalid header: 0xffffffff
invalid header: 0xffffffff`), Decode: decode.Options{Chip: "ESP32-C3"}, Seen: no(), Topic: "iotbench/esp32c3-112233/telemetry"})
	top := r.Top()
	if top == nil || top.Code != SymImage || !strings.Contains(top.Summary, "invalid header: 0xffffffff") ||
		!strings.Contains(top.Fix, "flash a bootloader, partition table and application, e.g. iotbench provision --app merged.bin") {
		t.Fatalf("top finding %+v\nall: %+v", top, r.Findings)
	}
}
