package fsimage

import (
	"bytes"
	"strings"
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

func TestForESP32Partition(t *testing.T) {
	pt, err := layout.ParseCSV(strings.NewReader("nvs,data,nvs,,0x5000\napp0,app,factory,0x10000,1M\nfs1,data,spiffs,,0x20000\nfs2,data,littlefs,,0x40000\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ForESP32(pt); err == nil || !strings.Contains(err.Error(), "2 filesystem partitions") {
		t.Fatalf("two filesystems: %v", err)
	}
	p, _ := pt.ByLabel("fs2")
	g, err := ForESP32Partition(p)
	if err != nil || g.Offset != 0x130000 || g.Size != 0x40000 || !g.ESP32 || g.BlockSize != 4096 {
		t.Fatalf("%+v %v", g, err)
	}
	app, _ := pt.ByLabel("app0")
	if _, err := ForESP32Partition(app); err == nil || !strings.Contains(err.Error(), "not a data partition") {
		t.Fatalf("app partition: %v", err)
	}
}
