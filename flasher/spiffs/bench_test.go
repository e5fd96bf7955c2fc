package spiffs

import "testing"

// BenchmarkBuild1MB60Files builds the 4M1M layout's file system ("FS:1MB":
// 0xFA000 bytes, block 8192, ESP8266 parameters) from 60 files of mixed
// sizes, 576 KB in all: enough that SPIFFS' garbage collection runs.
func BenchmarkBuild1MB60Files(b *testing.B) {
	tr := mustTree(b, benchFiles())
	p := ESP8266Params(0xFA000, 8192)
	b.SetBytes(int64(tr.Size()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(tr, p); err != nil {
			b.Fatal(err)
		}
	}
}
