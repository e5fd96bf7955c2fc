package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/serialmon"
	"github.com/iotbench/iotbench/virtualboard"
)

func (a *app) demoCommand() *cobra.Command {
	var speed float64
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Flash a virtual ESP8266 and watch it boot (no hardware needed)",
		Long: `Start a virtual ESP8266, connect to it over RFC 2217 on loopback, flash a
demo firmware image with the ROM loader, verify it by reading it back, reset
the board, and read its 74880-baud boot log to confirm the ROM loaded the
image. The board's clock runs --speed times faster than real time so the
1 KiB-packet ROM transfer does not take long; everything else is as on a
real board.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runDemo(cmd.Context(), speed)
		},
	}
	cmd.Flags().Float64Var(&speed, "speed", 20, "virtual board clock speed-up (1 = real time)")
	return cmd
}

// demoImage is a valid ESP8266 v1 image: code in IRAM, data in DRAM, as a
// NONOS application lays it out.
func demoImage() ([]byte, error) {
	b, err := image.NewBuilder(image.ChipESP8266)
	if err != nil {
		return nil, err
	}
	code := make([]byte, 24*1024)
	x := uint32(0x12345678)
	for i := range code {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		code[i] = byte(x)
	}
	data := []byte(strings.Repeat("iotbench demo firmware\x00", 64))
	b.Entry = 0x40100004
	b.FlashMode, b.FlashSize, b.FlashFreq = "dio", "4MB", "40m"
	b.Segments = []image.BuildSegment{{Addr: 0x40100000, Data: code}, {Addr: 0x3FFE8000, Data: data[:len(data)&^3]}}
	return b.Build()
}

func (a *app) runDemo(ctx context.Context, speed float64) error {
	img, err := demoImage()
	if err != nil {
		return err
	}
	a.out.say("1/4 Starting a virtual ESP8266 (4 MB flash, clock ×%g)...", speed)
	board, err := virtualboard.New(virtualboard.Config{Speed: speed})
	if err != nil {
		return err
	}
	defer board.Close()
	srv, err := board.ServeRFC2217("127.0.0.1:0")
	if err != nil {
		return &portError{err}
	}
	defer srv.Close()
	a.out.say("    serving it at %s", srv.URL())

	a.out.say("2/4 Connecting and flashing a %d-byte demo image at 0x0 (ROM loader)...", len(img))
	port, err := serialmon.Open(ctx, srv.URL(), flasher.ROMBaud)
	if err != nil {
		return &portError{err}
	}
	defer port.Close()
	l, _, err := flasher.Open(ctx, port, flasher.SessionOptions{
		ConnectOptions: flasher.ConnectOptions{PortName: srv.URL(), Events: a.out.event},
		NoStub:         a.noStub || a.stubFile == "", StubFile: a.stubFile,
	})
	if err != nil {
		return err
	}
	if err := l.WriteFlash(ctx, []flasher.Region{{Addr: 0, Data: img, Name: "demo image"}}, flasher.WriteOptions{Verify: flasher.VerifyReadBack}); err != nil {
		return err
	}
	if !bytes.Equal(board.Flash().Read(0, len(img)), img) {
		return fmt.Errorf("the virtual flash does not hold the image although the write succeeded: a bug, please report it")
	}

	a.out.say("3/4 Resetting the board and reading its boot log at 74880 baud...")
	if err := l.After(flasher.AfterHardReset); err != nil {
		return err
	}
	port.SetBaudRate(74880)
	logText, err := readQuiet(ctx, port, 300*time.Millisecond, 5*time.Second)
	if err != nil {
		return &portError{err}
	}
	for _, line := range strings.Split(strings.TrimRight(logText, "\n"), "\n") {
		if strings.TrimSpace(line) != "" {
			a.out.say("    | %s", line)
		}
	}
	ok := strings.Contains(logText, "boot mode:(3,") && strings.Contains(logText, "csum 0x") && !strings.Contains(logText, "csum err")
	a.out.result(map[string]any{"image_size": len(img), "verified": true, "booted": ok, "boot_log": logText})
	if !ok {
		return fmt.Errorf("the board did not boot the image (see the log above)")
	}
	a.out.say("4/4 Done: image written, read back identical, and the ROM loaded it with a valid checksum.")
	return nil
}

// readQuiet reads until the line has been idle for quiet, or max elapsed.
func readQuiet(ctx context.Context, p flasher.Port, quiet, max time.Duration) (string, error) {
	var out []byte
	buf := make([]byte, 4096)
	end := time.Now().Add(max)
	for time.Now().Before(end) && ctx.Err() == nil {
		p.SetReadTimeout(quiet)
		n, err := p.Read(buf)
		if err != nil {
			return string(out), err
		}
		if n == 0 && len(out) > 0 {
			break
		}
		out = append(out, buf[:n]...)
	}
	return string(out), nil
}
