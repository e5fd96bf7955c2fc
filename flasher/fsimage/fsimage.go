// Package fsimage is the one door to the filesystem image formats: it
// builds a SPIFFS or LittleFS image with the parameters a flash layout
// dictates (so the image mounts by construction), and opens an image of
// either kind, detecting which, for listing, extraction and checking. The
// CLI and the provisioning pipeline use it; the formats themselves live in
// flasher/spiffs and flasher/littlefs.
package fsimage

import (
	"fmt"
	"time"

	"github.com/iotbench/iotbench/flasher/fstree"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/littlefs"
	"github.com/iotbench/iotbench/flasher/spiffs"
)

// Kinds.
const (
	SPIFFS   = layout.SPIFFS
	LittleFS = layout.LittleFS
)

// Geometry is where an image goes and how it is cut up.
type Geometry struct {
	Offset    uint32 // flash address of the filesystem
	Size      int
	BlockSize int
	PageSize  int
	// ESP32 selects the ESP32 SPIFFS variant (meta length 4, magic with
	// length, filesystem-images.md §4).
	ESP32 bool
	// Name says where the geometry came from ("layout 4M1M", …).
	Name string
}

// ForESP8266 is the filesystem region of an Arduino ESP8266 layout.
func ForESP8266(l layout.ESP8266Layout) (Geometry, error) {
	if !l.HasFS() {
		return Geometry{}, fmt.Errorf("layout %s has no filesystem: pick one with FS (see iotbench layouts)", l.Name)
	}
	return Geometry{Offset: l.FS.Offset, Size: int(l.FS.Size), BlockSize: l.FSBlock, PageSize: l.FSPage, Name: "layout " + l.Name}, nil
}

// ForESP32 is the filesystem partition of an ESP32 partition table.
func ForESP32(t *layout.PartitionTable) (Geometry, error) {
	p, err := t.FS()
	if err != nil {
		return Geometry{}, err
	}
	return ForESP32Partition(p)
}

// ForESP32Partition is a chosen data partition of an ESP32 table (when a
// table has several filesystems, the caller picks one by label).
func ForESP32Partition(p layout.Partition) (Geometry, error) {
	if p.Type != layout.TypeData {
		return Geometry{}, fmt.Errorf("partition %s is not a data partition: a filesystem goes into a data partition, usually subtype spiffs", p)
	}
	return Geometry{Offset: p.Offset, Size: int(p.Size), BlockSize: layout.ESP32FSBlock, PageSize: layout.ESP32FSPage, ESP32: true, Name: "partition " + p.Label}, nil
}

// BuildOptions tune a build.
type BuildOptions struct {
	// FixedTime makes LittleFS images reproducible (every timestamp set to
	// it); SPIFFS stores no times.
	FixedTime *time.Time
}

// Build makes an image of kind for g from tree.
func Build(kind layout.FSKind, t *fstree.Tree, g Geometry, o BuildOptions) ([]byte, error) {
	switch kind {
	case SPIFFS:
		p := spiffs.ESP8266Params(g.Size, g.BlockSize)
		if g.ESP32 {
			p = spiffs.ESP32Params(g.Size)
		}
		if g.PageSize > 0 {
			p.PageSize = g.PageSize
		}
		return spiffs.Build(t, p)
	case LittleFS:
		// For an ESP32 partition the block is 4096 and everything else as
		// mklittlefs 3.1 sets it, which is what PlatformIO's buildfs makes
		// for arduino-esp32 (filesystem-images.md §5.2). Disk version 2.0
		// with name_max 32 is the most compatible choice for esp_littlefs,
		// whose own name limit is larger (§5.1); its read/prog sizes do not
		// matter to a reader, which follows each commit's CRC tag length.
		return littlefs.Build(t, littlefs.ESP8266Params(g.Size, g.BlockSize), littlefs.Options{FixedTime: o.FixedTime})
	}
	return nil, fmt.Errorf("unknown filesystem %q: use spiffs or littlefs", kind)
}

// Entry is one file or folder in an image.
type Entry struct {
	Path    string    `json:"path"`
	IsDir   bool      `json:"dir,omitempty"`
	Size    int       `json:"size"`
	ModTime time.Time `json:"mtime,omitempty"`
}

// Image is an opened image of either kind.
type Image struct {
	Kind      layout.FSKind
	Size      int
	BlockSize int
	PageSize  int
	Entries   []Entry

	spiffs   *spiffs.Image
	littlefs *littlefs.Image
}

// Open reads an image. kind "" detects it: a LittleFS superblock
// ("littlefs" in block 0 or 1) or SPIFFS magic. Parameters come from the
// image itself.
func Open(img []byte, kind layout.FSKind) (*Image, error) {
	if kind == "" || kind == LittleFS {
		if p, err := littlefs.Detect(img); err == nil {
			lim, err := littlefs.Read(img, p)
			if err != nil {
				return nil, err
			}
			im := &Image{Kind: LittleFS, Size: len(img), BlockSize: p.BlockSize, littlefs: lim}
			for _, e := range lim.Entries {
				im.Entries = append(im.Entries, Entry{Path: e.Path, IsDir: e.IsDir, Size: e.Size, ModTime: e.ModTime})
			}
			return im, nil
		} else if kind == LittleFS {
			return nil, fmt.Errorf("not a LittleFS image: %w", err)
		}
	}
	p, err := spiffs.Detect(img)
	if err != nil {
		if kind == "" {
			return nil, fmt.Errorf("neither a LittleFS nor a SPIFFS image (%v): is this a filesystem image? pass --fs to say which", err)
		}
		return nil, fmt.Errorf("not a SPIFFS image: %w", err)
	}
	sim, err := spiffs.Read(img, p)
	if err != nil {
		return nil, err
	}
	im := &Image{Kind: SPIFFS, Size: len(img), BlockSize: p.BlockSize, PageSize: p.PageSize, spiffs: sim}
	for _, f := range sim.Files {
		im.Entries = append(im.Entries, Entry{Path: f.Path, Size: f.Size})
	}
	return im, nil
}

// ReadFile returns a file's content.
func (im *Image) ReadFile(path string) ([]byte, error) {
	if im.spiffs != nil {
		return im.spiffs.ReadFile(path)
	}
	return im.littlefs.ReadFile(path)
}

// Extract writes every file under dir (never outside it).
func (im *Image) Extract(dir string) error {
	if im.spiffs != nil {
		return im.spiffs.Extract(dir)
	}
	return im.littlefs.Extract(dir)
}

// Check lists what is damaged, in words.
func (im *Image) Check() []string {
	var out []string
	if im.spiffs != nil {
		for _, p := range im.spiffs.Check() {
			out = append(out, p.String())
		}
		return out
	}
	for _, p := range im.littlefs.Check() {
		out = append(out, p.String())
	}
	return out
}
