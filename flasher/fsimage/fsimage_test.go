package fsimage

import (
	"bytes"
	"testing"
	"time"

	"github.com/iotbench/iotbench/flasher/fstree"
	"github.com/iotbench/iotbench/flasher/layout"
)

func TestBuildOpenBothKinds(t *testing.T) {
	tree, err := fstree.FromFiles([]fstree.File{
		{Path: "/config.json", Data: []byte(`{"wifi":"bench"}`)},
		{Path: "/cert.der", Data: bytes.Repeat([]byte{0x30}, 900)},
		{Path: "/www/index.html", Data: []byte("<html></html>")},
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := layout.ESP8266("4M1M")
	if err != nil {
		t.Fatal(err)
	}
	g, err := ForESP8266(l)
	if err != nil {
		t.Fatal(err)
	}
	ft := time.Unix(1700000000, 0)
	for _, kind := range []layout.FSKind{SPIFFS, LittleFS} {
		img, err := Build(kind, tree, g, BuildOptions{FixedTime: &ft})
		if err != nil {
			t.Fatal(err)
		}
		if len(img) != 0xFA000 {
			t.Fatalf("%s image is %d bytes, the layout says 0xFA000", kind, len(img))
		}
		im, err := Open(img, "")
		if err != nil || im.Kind != kind || im.BlockSize != 8192 {
			t.Fatalf("%s: open %+v %v", kind, im, err)
		}
		got, err := im.ReadFile("/www/index.html")
		if err != nil || string(got) != "<html></html>" {
			t.Fatalf("%s: read %q %v", kind, got, err)
		}
		if p := im.Check(); len(p) != 0 {
			t.Fatalf("%s: problems %v", kind, p)
		}
	}
	if _, err := ForESP8266(layout.ESP8266Layout{Name: "4M"}); err == nil {
		t.Fatal("a layout without FS accepted")
	}
	if _, err := Open(make([]byte, 8192), ""); err == nil {
		t.Fatal("zeros opened as a filesystem")
	}
}
