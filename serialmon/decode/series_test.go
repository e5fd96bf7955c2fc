package decode

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func samples(kv ...any) []Sample {
	var out []Sample
	for i := 0; i < len(kv); i += 2 {
		out = append(out, Sample{kv[i].(string), float64Of(kv[i+1])})
	}
	return out
}

func float64Of(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case float64:
		return x
	}
	panic(v)
}

func TestSeries(t *testing.T) {
	cases := []struct {
		line string
		want []Sample
	}{
		// key=value, key:value, units, JSON, Arduino plotter labels.
		{"temp=21.5 hum=40", samples("temp", 21.5, "hum", 40)},
		{"Heap: 23456", samples("Heap", 23456)},
		{"t: 21.5C, h: 40%, p=1013.2hPa rssi:-61dBm", samples("t", 21.5, "h", 40, "p", 1013.2, "rssi", -61)},
		{`{"t":21.5,"h":40,"name":"t1","ok":true}`, samples("t", 21.5, "h", 40)},
		{"label1:1.5,label2:-2e3", samples("label1", 1.5, "label2", -2000)},
		{"speed = 3.5 m/s", samples("speed", 3.5)},
		{"temperature=22.5°C", samples("temperature", 22.5)},
		{"Publish message: hello world #3", nil},
		// CSV and plotter number lists.
		{"1,2,3", samples("c0", 1, "c1", 2, "c2", 3)},
		{"1.5 -2 3e2", samples("c0", 1.5, "c1", -2, "c2", 300)},
		{"42", samples("c0", 42)},
		{"10\t20", samples("c0", 10, "c1", 20)},
		// #IB lines: measurements named event.key, codes left out.
		{"#IB heap free=23456 max_block=15000 frag=12", samples("heap.free", 23456, "heap.max_block", 15000, "heap.frag", 12)},
		{"#IB wifi status=3 ip=192.168.1.20 rssi=-61 ch=6", samples("wifi.rssi", -61, "wifi.ch", 6)},
		{"#IB ntp synced=1 epoch=1732184142 waited_ms=2310", samples("ntp.waited_ms", 2310)},
		{`#IB tls ok=0 code=62 text="Chain could not be linked to a trust anchor." mfln=0 heap=21344`, samples("tls.heap", 21344)},
		{`#IB broken="`, nil},
		// Not measurements.
		{"epc1=0x40201014 epc2=0x00000000 epc3=0x00000000 excvaddr=0x00000004 depc=0x00000000", nil},
		{"addr=0x3ffe8010 value=0x10", nil},
		{" ets Jan  8 2013,rst cause:2, boot mode:(3,6)", nil},
		{"rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)", nil},
		{"load 0x4010f000, len 3424, room 16 ", nil},
		{"load:0x3fff001c,len:1044", nil},
		{"mode:DIO, clock div:2", nil},
		{"configsip: 0, SPIWP:0xee", nil},
		{"chksum 0x2e", nil},
		{"tail 0", nil},
		{"sp: 3ffffe30 end: 3fffffc0 offset: 0150", nil},
		{"3ffffe30:  3fffdad0 00000000 3ffee5b8 40201047  ", nil},
		{"Exception (28):", nil},
		{"Backtrace: 0x400d1a28:0x3ffb1f70 0x400d0f6b:0x3ffb1f90", nil},
		{"PC      : 0x400d1a2b  PS      : 0x00060630", nil},
		{"rf cal sector: 1020", nil},
		{"state: 0 -> 2 (b0)", nil},
		{"pm open,type:2 0", nil},
		{"v00048810", nil},
		{"ver=0.3.1 ip=192.168.1.20 at=10:15:42", nil},
		{"epoch=1732184142 ts=5 time=12 millis=300 chip=1234 id=7 version=3", nil},
		{"chip=00a1b2c3", nil},
		{"Current time: Thu Nov 21 10:15:42 2024", nil},
		{"IP address: 192.168.1.20", nil},
		{"192.168.1.20", nil},
		{"1,2,x", nil},
		{"", nil},
		{"x=1e999", nil},
	}
	for _, c := range cases {
		got := Series(c.line)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q:\n got  %v\n want %v", c.line, got, c.want)
		}
	}
}

func TestSeriesHeader(t *testing.T) {
	var p SeriesParser
	if got := p.Line("temp,hum,pressure\r\n"); got != nil {
		t.Fatalf("header gave %v", got)
	}
	if got := p.Line("21.5,40,1013"); !reflect.DeepEqual(got, samples("temp", 21.5, "hum", 40, "pressure", 1013)) {
		t.Fatalf("%v", got)
	}
	// Another column count: positional names; the header stays for later.
	if got := p.Line("1 2"); !reflect.DeepEqual(got, samples("c0", 1, "c1", 2)) {
		t.Fatalf("%v", got)
	}
	if got := p.Line("22\t41\t1012"); !reflect.DeepEqual(got, samples("temp", 22, "hum", 41, "pressure", 1012)) {
		t.Fatalf("%v", got)
	}
	p.Line("a;b")
	if got := p.Line("1;2"); !reflect.DeepEqual(got, samples("a", 1, "b", 2)) {
		t.Fatalf("%v", got)
	}
	// Space-separated words are not a header ("WiFi connected").
	p.Line("WiFi connected")
	if got := p.Line("5 6"); !reflect.DeepEqual(got, samples("a", 5, "b", 6)) {
		t.Fatalf("%v", got)
	}
	// The stateless form never names columns.
	if got := Series("21.5,40,1013"); got[0].Name != "c0" {
		t.Fatalf("%v", got)
	}
}

func FuzzSeries(f *testing.F) {
	for _, s := range []string{"temp=21.5 hum=40", "1,2,3", "t,h", `{"t":21.5}`, "#IB heap free=1 frag=2", "x:-1e5%", "a=0x10", "\"\":1", "k=.5", "k=5.", "k=-"} {
		f.Add(s, "1,2")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		var p SeriesParser
		for _, line := range []string{a, b, a} {
			got := p.Line(line)
			if len(got) > maxSamples {
				t.Fatalf("%d samples", len(got))
			}
			for _, s := range got {
				if s.Name == "" || math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
					t.Fatalf("bad sample %+v from %q", s, line)
				}
			}
		}
		if len(p.header) > maxSamples {
			t.Fatalf("header of %d", len(p.header))
		}
	})
}

// FuzzDecoderLine feeds random lines and multi-line sequences: no panic,
// well-formed events, and bounded state.
func FuzzDecoderLine(f *testing.F) {
	seeds := []string{normalBoot, esp32Boot, guru, coperciniLog,
		report8266("Exception (28):\r\n" + regs(0x40201014, 4)),
		report8266("Soft WDT reset\r\n\r\nException (4):\r\n" + regs(0x40201016, 0)),
		"Hardware WDT reset\n>>>stack>>>\nctx: ROM\n3fffff80:  40201047 00000000 3ffe8010 4000050c\n<<<stack<<<\n",
		"#IB boot app=x reason=2 info=\"Fatal exception:28 flag:2 (EXCEPTION) epc1:0x40201014 epc2:0x00000000 epc3:0x00000000 excvaddr:0x00000004 depc:0x00000000\"",
		"#IB tls ok=0 code=46 text=\"SSL received fatal alert - Decoding error: value is off-limits.\"",
		boot32 + "#IB tls ok=0 code=-9984 text=\"X509 - Certificate verification failed, e.g. CRL, CA or signature check failed\"\nSSL error: \n",
		"[  5012][E][ssl_client.cpp:37] _handle_error(): [start_ssl_client():290]: (-30592) SSL - A fatal alert message was received from our peer\n[ 1234][E][NetworkClientSecure.cpp:159] connect(): start_ssl_client: connect failed: -1\n",
		"abort() was called at PC 0x400d2357 on core 1\nBacktrace: 0x40083f0d:0x3ffb1e80\n",
		"Backtrace: 0x400d1a28:0x3ffb1f70\n0x4008a2f1:0x3ffb1fb0 |<-CORRUPTED\n",
		"load 0x00000000, len 0, room 16 \nchksum 0xef\ncsum err\nets_main.c \n",
		// ESP-IDF's second-stage bootloader refusing the app (idfboot.go).
		"ESP-ROM:esp32c3-api1-20210207\r\nentry 0x403cc710\r\n\x1b[0;31mE (123) boot_comm: mismatch chip ID, expected 5, found 9\x1b[0m\r\nE (123) boot: OTA app partition slot 0 is not bootable\r\nE (124) boot: No bootable app partitions in the partition table\r\n",
		"E (130) esp_image: image at 0x10000 has invalid magic byte (nothing flashed here?)\nE (140) esp_image: Checksum failed. Calculated 0x5c read 0x5d\nE (150) esp_image: Image hash failed - image is corrupt\nE (160) boot: Factory app partition is not bootable\n",
		"W (31) boot: PRO CPU has been reset by WDT.\nE (48) boot: Failed to verify partition table\nE (49) boot: load partition table error!\nI (200) cpu_start: x\nE (300) wifi:oops\n",
	}
	for _, s := range seeds {
		f.Add(s, true)
		f.Add(s, false)
	}
	syms := loadFixture(f)
	f.Fuzz(func(t *testing.T, input string, withELF bool) {
		opts := Options{}
		if withELF {
			opts = Options{Symbols: syms, Chip: "ESP8266"}
		}
		d := NewDecoder(opts)
		at := t0
		check := func(evs []Event) {
			for _, e := range evs {
				wellFormed(t, e)
				if len(e.Frames) > 4*maxCandidates+8 {
					t.Fatalf("%s with %d frames", e.Kind, len(e.Frames))
				}
			}
		}
		// As one line, then as a sequence of lines.
		check(d.Line(input, at))
		for _, l := range strings.Split(input, "\n") {
			at = at.Add(time.Millisecond)
			check(d.Line(l, at))
			if d.blk != nil && d.blk.size() > maxBlockLines {
				t.Fatalf("open block of %d lines", d.blk.size())
			}
			if len(d.lastLines) > lastLinesKept || len(d.romErrs) > 17 {
				t.Fatalf("state grew: %d %d", len(d.lastLines), len(d.romErrs))
			}
		}
		check(d.Flush())
	})
}

func TestDecoderLineLengthBounded(t *testing.T) {
	d := NewDecoder(Options{})
	long := "Heap: " + strings.Repeat("9", 10000)
	evs := d.Line(long, t0)
	for _, e := range evs {
		wellFormed(t, e)
	}
	evs = d.Line("#IB x k="+strings.Repeat("v", 100000), t0)
	if len(evs) != 1 || len(evs[0].Evidence[0]) > maxEvidenceLine+len("…") {
		t.Fatalf("%s", kinds(evs))
	}
}
