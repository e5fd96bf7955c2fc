// Package virtual puts a virtual ESP8266 (or ESP32-family board) behind
// the TUI, so the TUI can be tried and tested without hardware: the
// board's in-process port as a device.Spec, a demo application that
// prints sensor readings (standing for a sketch: the board does not
// execute image code), an image that makes the ROM (or, on an ESP32, the
// bootloader) hand over to it, and a cable that can be pulled. The CLI's
// `iotbench tui --virtual` and the TUI's tests use it; the TUI itself does
// not import it.
package virtual

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/virtualboard"
	"github.com/iotbench/iotbench/virtualboard/esp32fw"
)

// Options configure a virtual board for the TUI.
type Options struct {
	// Speed runs the board's clock faster than real time (default 1).
	Speed float64
	// App runs once the ROM loaded a valid image; nil = DemoApp.
	App virtualboard.App
	// Flashed loads SketchImage at 0x0 first, so the board boots into
	// the application; otherwise the flash is blank (the ROM prints its
	// banner and nothing else).
	Flashed bool
	// MAC of the board (zero = the virtual board's default).
	MAC [6]byte
	// Name is the port name shown in the board list.
	Name string
	// Stub gives the board a flasher stub of its own (see WriteStub), so
	// flashing it goes at the stub's speed with MD5 verification. ESP8266
	// only (the ESP32-family ROMs inflate and hash by themselves).
	Stub bool
	// Chip is "ESP8266" (default) or an ESP32-family chip ("ESP32-C3");
	// Flashed then loads a merged image (esp32fw: bootloader, arduino-esp32's
	// default partition table, app) at 0x0.
	Chip string
}

// Board is a virtual board with a pullable cable.
type Board struct {
	*virtualboard.Board
	name  string
	speed float64
	stub  string
	dir   string

	mu     sync.Mutex
	port   *virtualboard.HostPort
	pulled bool
}

// New builds and powers on a board.
func New(o Options) (*Board, error) {
	if o.Speed == 0 {
		o.Speed = 1
	}
	if o.App == nil {
		o.App = DemoApp
	}
	if o.Chip == "" {
		o.Chip = image.ChipESP8266
	}
	esp8266 := image.IsESP8266(o.Chip)
	if o.Stub && !esp8266 {
		return nil, fmt.Errorf("virtual: the stub is an ESP8266 one; the %s's ROM loader needs none", o.Chip)
	}
	if o.Name == "" {
		o.Name = "virtual:" + strings.ToLower(strings.ReplaceAll(o.Chip, "-", ""))
	}
	vb, err := virtualboard.New(virtualboard.Config{Speed: o.Speed, App: o.App, MAC: o.MAC, Chip: o.Chip})
	if err != nil {
		return nil, err
	}
	if o.Flashed {
		img, err := flashedImage(o.Chip)
		if err != nil {
			vb.Close()
			return nil, err
		}
		vb.Flash().Load(0, img)
		vb.Reset(false)
	}
	b := &Board{Board: vb, name: o.Name, speed: o.Speed}
	if o.Stub {
		if b.dir, err = os.MkdirTemp("", "iotbench-virtual-"); err == nil {
			b.stub, err = WriteStub(b.dir)
		}
		if err != nil {
			b.Close()
			return nil, err
		}
	}
	return b, nil
}

// Close powers the board off and removes its stub.
func (b *Board) Close() error {
	err := b.Board.Close()
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
	return err
}

// Spec is how the TUI reaches the board: its in-process port, opened at
// the requested rate.
func (b *Board) Spec() device.Spec {
	return device.Spec{
		Port:  b.name,
		Label: fmt.Sprintf("virtual %s", b.Chip().Name),
		Open:  b.open,
		// The flasher's reply timeouts shrink with the board's clock, as
		// the flasher's own tests do, so that a lost reply costs little.
		TimeoutScale: min(1, max(0.02, 1/b.speed)),
		StubFile:     b.stub,
	}
}

func (b *Board) open(ctx context.Context, baud int) (flasher.Port, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pulled {
		return nil, fmt.Errorf("%s: no such port (the cable is pulled): %w", b.name, fs.ErrNotExist)
	}
	p, err := b.Port()
	if err != nil {
		return nil, err
	}
	if err := p.SetBaudRate(baud); err != nil {
		p.Close()
		return nil, err
	}
	b.port = p
	return p, nil
}

// Unplug pulls the USB cable: the open port fails from now on and opening
// it fails until Replug.
func (b *Board) Unplug() {
	b.mu.Lock()
	p := b.port
	b.pulled = true
	b.port = nil
	b.mu.Unlock()
	if p != nil {
		p.Close()
	}
}

// Replug plugs the cable back in.
func (b *Board) Replug() {
	b.mu.Lock()
	b.pulled = false
	b.mu.Unlock()
}

// flashedImage is what a flashed board holds at 0x0.
func flashedImage(chip string) ([]byte, error) {
	if image.IsESP8266(chip) {
		return SketchImage()
	}
	pt, err := layout.ESP32DefaultTable("default", 4<<20)
	if err != nil {
		return nil, err
	}
	return esp32fw.Merged(chip, pt, 1)
}

// SketchImage is a valid ESP8266 application image: the ROM loads it and
// hands over to the board's App.
func SketchImage() ([]byte, error) {
	bl, err := image.NewBuilder(image.ChipESP8266)
	if err != nil {
		return nil, err
	}
	code := make([]byte, 16<<10)
	x := uint32(0x9E3779B9)
	for i := range code {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		code[i] = byte(x)
	}
	bl.Entry = 0x40100004
	bl.FlashMode, bl.FlashSize, bl.FlashFreq = "dio", "4MB", "40m"
	bl.Segments = []image.BuildSegment{{Addr: 0x40100000, Data: code}}
	return bl.Build()
}

// DemoApp stands for a sketch that reads a sensor: Serial.begin(115200)
// after the SDK's start-up, a greeting, then a reading every 500 ms of
// board time, as key=value pairs the plotter picks up.
func DemoApp(ctx context.Context, env *virtualboard.AppEnv) {
	if env.Sleep(ctx, 300*time.Millisecond) != nil {
		return
	}
	env.Begin(115200)
	env.Print("\r\niotbench demo sketch (virtual board)\r\n")
	heap := 41000
	for i := 0; ; i++ {
		t := 21.5 + 1.5*math.Sin(float64(i)/6)
		h := 40 + 5*math.Cos(float64(i)/9)
		heap -= 8 * (i % 3)
		env.Printf("reading %d temp=%.2fC hum=%.1f%% heap=%d\r\n", i, t, h, heap)
		if env.Sleep(ctx, 500*time.Millisecond) != nil {
			return
		}
	}
}

// WriteStub writes a flasher stub in esptool's JSON format for the virtual
// board into dir and returns its path. The board models what the esptool
// stub does once uploaded but never executes the uploaded code, so the
// code here is filler at the ESP8266 stub's addresses
// (esp-serial-protocol.md §10.2); it is only good for virtual boards.
func WriteStub(dir string) (string, error) {
	text := make([]byte, 0x2054)
	for i := range text {
		text[i] = byte(i * 7)
	}
	j, err := json.Marshal(map[string]any{
		"entry":      0x4010D004,
		"text":       base64.StdEncoding.EncodeToString(text),
		"text_start": 0x4010D000,
		"data":       base64.StdEncoding.EncodeToString(make([]byte, 0x300)),
		"data_start": 0x3FFFACAC,
		"bss_start":  0x3FFFAC00,
	})
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "virtual-esp8266-stub.json")
	return p, os.WriteFile(p, j, 0o644)
}
