package image

import (
	"bytes"
	"strings"
	"testing"
)

func describe(t *testing.T, data []byte, chip string) string {
	t.Helper()
	im, err := Parse(data, chip)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := im.Describe(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestDescribeV1(t *testing.T) {
	want := `ESP8266 image header
====================
Image version: 1
Entry point: 0x40100004
Segments: 1
Flash size: 1MB
Flash freq: 40m
Flash mode: DIO

Segments information
====================
Segment   Length   Load addr   File offs  Memory types
-------  -------  ----------  ----------  ------------
      0  0x00004  0x40100000  0x00000008  IRAM

ESP8266 image footer
====================
Checksum: 0xe0 (valid)
Image length: 32 bytes
`
	if got := describe(t, v1Vector(), ChipESP8266); got != want {
		t.Errorf("Describe:\n%s\nwant:\n%s", got, want)
	}
}

func TestDescribeVariants(t *testing.T) {
	bad := esp32Vector(true)
	bad[2], bad[3] = 9, 0x9C // invalid mode, size and freq; digest now stale
	bad[47] ^= 1             // checksum wrong
	bad = append(bad, 0, 0)  // trailing data
	got := describe(t, bad, ChipESP32)
	for _, want := range []string{
		"ESP32 extended image header",
		"WP pin: 0xee (disabled)",
		"Chip ID: 0 (ESP32)",
		"Maximal chip revision: v655.35",
		"WARNING: Invalid flash size (0x90)",
		"WARNING: Invalid flash frequency (0xc)",
		"WARNING: Invalid flash mode (9)",
		"      0  0x00008  0x3ffb0000  0x00000018  BYTE_ACCESSIBLE, DRAM",
		"Checksum: 0xaa (invalid - calculated 0xab)",
		"(invalid - stored ",
		"Trailing data: 2 bytes after the image",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}

	got = describe(t, esp32Vector(false), ChipESP32)
	if !strings.Contains(got, "Validation hash: Not appended") {
		t.Errorf("no digest line:\n%s", got)
	}

	v2 := v2Vector(t)
	got = describe(t, v2[:len(v2)-4], ChipESP8266)
	for _, want := range []string{"Image version: 2", "irom0 (flash-mapped", "CRC32: missing", "Warnings\n========\n- no CRC32 trailer"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	v2[len(v2)-1] ^= 0x80
	if got = describe(t, v2, ChipESP8266); !strings.Contains(got, "(invalid - calculated 0x") {
		t.Errorf("bad CRC not shown:\n%s", got)
	}

	b := newBuilder(t, ChipESP32S3)
	b.Ext.ChipID = 0x77
	b.Segments = []BuildSegment{{Addr: 0x42000020, Data: []byte{1, 2, 3, 4}}}
	if got = describe(t, mustBuild(t, b), ChipESP32S3); !strings.Contains(got, "Chip ID: 119 (Unknown ID)") ||
		!strings.Contains(got, "IROM (flash-mapped)") || !strings.Contains(got, "Entry point not set") {
		t.Errorf("S3:\n%s", got)
	}
}
