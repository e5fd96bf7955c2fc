package arduinoota

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"github.com/iotbench/iotbench/virtualboard/esp32fw"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/ota"
	"github.com/iotbench/iotbench/virtualboard"
)

// TargetName is what the sketch calls an update's target in its "OTA
// start" line: "sketch" for an application, "filesystem" for command 100
// (the wording of the core's BasicOTA example).
func TargetName(cmd ota.Command) string {
	if cmd == ota.CommandFS {
		return "filesystem"
	}
	return "sketch"
}

// PrintCallbacks are the callbacks the reference sketch installs: its
// "OTA start/end/error" lines (templates in package firmware, shared with
// the sketch and the firmware twin) and an #IB ota status line per phase
// (device-side.md §6.4), progress at every 10 %.
func PrintCallbacks(print func(string)) Callbacks {
	status := func(fields ...firmware.Field) {
		print(firmware.Status{Event: firmware.EventOTA, Fields: fields}.String() + "\r\n")
	}
	phase := func(p string) firmware.Field { return firmware.Field{Key: firmware.KeyPhase, Value: p} }
	lastStep := -1
	return Callbacks{
		OnStart: func(cmd ota.Command) {
			lastStep = 0
			print(firmware.Line(firmware.LineOTAStart, TargetName(cmd)))
			status(phase(firmware.OTAPhaseStart))
		},
		OnProgress: func(done, total int) {
			if total <= 0 {
				return
			}
			pct := done * 100 / total
			if step := pct / 10; step > lastStep && pct < 100 {
				lastStep = step
				status(phase(firmware.OTAPhaseProgress), firmware.Field{Key: firmware.KeyPct, Value: strconv.Itoa(pct)})
			}
		},
		OnEnd: func() {
			print(firmware.Line(firmware.LineOTAEnd))
			status(phase(firmware.OTAPhaseEnd))
		},
		OnError: func(code Error) {
			print(firmware.Line(firmware.LineOTAError, int(code)))
			status(phase(firmware.OTAPhaseError), firmware.Field{Key: firmware.KeyErr, Value: strconv.Itoa(int(code))})
		},
	}
}

// WithEboot runs eboot (Boot) before app, as every image the Arduino core
// builds does, so that a sketch model — the firmware twin — gets eboot's
// lines and the copy of a staged update without calling Boot itself. When
// eboot cannot start an application, app does not run.
func (d *Device) WithEboot(app virtualboard.App) virtualboard.App {
	return func(ctx context.Context, env *virtualboard.AppEnv) {
		if _, err := d.Boot(ctx, env); err != nil {
			return
		}
		app(ctx, env)
	}
}

// BasicOTA is a sketch for the virtual board that does what the core's
// BasicOTA example does. On the ESP8266: after eboot, Serial.begin(74880),
// a banner with the application's version marker; on ESP32-family chips
// (no eboot: the bootloader picked the slot) Serial.begin(115200) and a
// banner with the version and the partition it runs from (Running32).
// Then ArduinoOTA.begin() with PrintCallbacks, and handle() every 10 ms.
// The firmware twin does the same around its own work; tests and demos
// use this one. On ESP32-family chips the core's initArduino() confirms a
// new app first (AppEnv.InitArduino).
func BasicOTA(d *Device) virtualboard.App { return BasicOTAHooks(d, virtualboard.ArduinoHooks{}) }

// BasicOTAHooks is BasicOTA with the sketch's verifyRollbackLater() and
// verifyOta() overrides (ESP32-family chips only).
func BasicOTAHooks(d *Device, hooks virtualboard.ArduinoHooks) virtualboard.App {
	return func(ctx context.Context, env *virtualboard.AppEnv) {
		if err := env.InitArduino(ctx, hooks); err != nil {
			return
		}
		if image.IsESP8266(env.Chip()) {
			app, err := d.Boot(ctx, env)
			if err != nil {
				return
			}
			env.Begin(74880)
			env.Printf("\nBasicOTA v%08x\n", app.Version)
		} else {
			env.Begin(firmware.SerialBaudESP32)
			r, err := Running32(env)
			if err != nil {
				env.Printf("\nBasicOTA: %v\n", err)
				<-ctx.Done()
				return
			}
			env.Printf("\nBasicOTA v%08x from %s\n", r.Version, r.Partition.Label)
		}
		o := d.Begin(ctx, env, Settings{}, PrintCallbacks(env.Print))
		defer o.End()
		env.Printf("Ready\nIP address: %s\nOTA: %s.local port %d\n", d.ip, o.Hostname(), d.Addr().Port)
		for {
			if o.Handle(ctx) != nil {
				return
			}
			if env.Sleep(ctx, 10*time.Millisecond) != nil {
				return
			}
		}
	}
}

// App32 describes the application an ESP32-family board runs.
type App32 struct {
	// Partition is the app partition the bootloader loaded
	// (esp_ota_get_running_partition).
	Partition layout.Partition
	// Version stands for the build: the first word of the image's first
	// segment, as on the ESP8266 (arduino-esp32 images start that segment
	// with esp_app_desc_t, whose first word is a constant magic; the
	// stand-in images of virtualboard/esp32fw have build-dependent bytes
	// there, so this is a convention of the virtual board).
	Version uint32
}

// Running32 is the running app of an ESP32-family board.
func Running32(env *virtualboard.AppEnv) (App32, error) {
	p, ok := env.RunningPartition()
	if !ok {
		return App32{}, fmt.Errorf("%s: no running app partition (not an ESP32-family board)", env.Chip())
	}
	// 8-byte header, 16-byte extended header, 8-byte segment header.
	return App32{Partition: p, Version: binary.LittleEndian.Uint32(env.Flash().Read(p.Offset+32, 4))}, nil
}

// SketchImage builds a flash image laid out like the ESP8266 Arduino
// core's build output (what arduino-cli and PlatformIO upload, over serial
// at 0 or over the air): a stand-in for eboot at 0 with eboot's two
// segments, padded to 4 KiB, and at 0x1000 an application of about
// appSize bytes whose first word is version — the marker eboot prints as
// "v%08x". The virtual board does not execute code, so the code bytes are
// filler shaped like Xtensa code (it compresses about as well). Flash
// parameters: DIO, 4MB, 40 MHz.
func SketchImage(version uint32, appSize int) ([]byte, error) {
	r := rand.New(rand.NewPCG(uint64(version), 0x0b5e))
	eb, err := image.NewBuilder(image.ChipESP8266)
	if err != nil {
		return nil, err
	}
	eb.Entry = 0x4010f49c
	eb.FlashMode, eb.FlashSize, eb.FlashFreq = "dio", "4MB", "40m"
	eb.Segments = []image.BuildSegment{
		{Addr: 0x4010f000, Data: codeLike(rand.New(rand.NewPCG(1, 1)), 3424)},
		{Addr: 0x3fff20b8, Data: make([]byte, 40)},
	}
	boot, err := eb.Build()
	if err != nil {
		return nil, err
	}
	if len(boot) > appStartOffset {
		return nil, fmt.Errorf("eboot stand-in is %d bytes, over 0x%x", len(boot), appStartOffset)
	}
	irom := codeLike(r, max(appSize-8192, 64))
	binary.LittleEndian.PutUint32(irom, version)
	ab, _ := image.NewBuilder(image.ChipESP8266)
	ab.Entry = 0x40100004
	ab.FlashMode, ab.FlashSize, ab.FlashFreq = "dio", "4MB", "40m"
	ab.Segments = []image.BuildSegment{
		{Addr: 0x40201010, Data: irom},
		{Addr: 0x40100000, Data: codeLike(r, 6144)},
		{Addr: 0x3ffe8000, Data: codeLike(r, 1024)},
		{Addr: 0x3ffe8400, Data: codeLike(r, 1008)},
	}
	app, err := ab.Build()
	if err != nil {
		return nil, err
	}
	out := append(boot, bytes.Repeat([]byte{0xFF}, appStartOffset-len(boot))...)
	return append(out, app...), nil
}

// codeLike makes bytes with the statistics of compiled code: instruction
// words from a small repertoire with varying operands, literal pools of
// addresses, and strings.
func codeLike(r *rand.Rand, n int) []byte {
	ops := make([][3]byte, 48)
	for i := range ops {
		ops[i] = [3]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}
	}
	words := []string{"WiFi", "connected", "OTA", "mqtt", "publish", "error", "%s:%d", "heap"}
	var b bytes.Buffer
	for b.Len() < n {
		switch k := r.IntN(100); {
		case k < 80:
			for range 8 + r.IntN(24) {
				op := ops[r.IntN(len(ops))]
				op[2] ^= byte(r.IntN(16))
				b.Write(op[:])
			}
		case k < 90:
			for range 2 + r.IntN(6) {
				b.Write(binary.LittleEndian.AppendUint32(nil, 0x40200000+r.Uint32N(0x80000)))
			}
		default:
			b.WriteString(words[r.IntN(len(words))])
			b.WriteByte(0)
		}
	}
	return b.Bytes()[:n]
}

// AppImage32 builds an application image for an ESP32-family chip of
// about size bytes whose version word (App32.Version, what BasicOTA
// prints) is version: a DRAM segment that starts with it and a code
// segment of code-like filler, with the chip's ID, a valid checksum and
// the appended SHA-256 — what an arduino-esp32 build uploads over the air,
// minus real code (the virtual board runs its App instead; like the
// images of virtualboard/esp32fw, the code is loaded at an IRAM address,
// which nothing checks). Flash parameters: DIO, 4MB.
func AppImage32(chip string, version uint32, size int) ([]byte, error) {
	b, err := image.NewBuilder(chip)
	if err != nil {
		return nil, err
	}
	dram, iram, err := esp32fw.RAMWindows(b.Chip)
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(uint64(version), 0xe532))
	data := codeLike(r, 1024)
	binary.LittleEndian.PutUint32(data, version)
	b.FlashMode, b.FlashSize = "dio", "4MB"
	b.Entry = iram + 0x20
	b.Segments = []image.BuildSegment{{Addr: dram, Data: data}, {Addr: iram, Data: codeLike(r, max(size-1200, 64))}}
	return b.Build()
}
