package main

import (
	"bytes"
	"os"
	"strconv"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/virtualboard"
)

// Script commands for the ESP32-family, reflash, merge and partitions
// scripts.
func init() {
	scriptCmds["vboard32"] = cmdVBoard32
	scriptCmds["vbcorrupt"] = cmdVBCorrupt
	scriptCmds["mkimage32"] = cmdMkimage32
	scriptCmds["flipbyte"] = cmdFlipByte
}

// vboard32 CHIP [-usb]: start a virtual ESP32-family board (clock ×1000)
// and put its RFC 2217 URL in $VB; -usb puts it behind its own
// USB-Serial/JTAG controller.
func cmdVBoard32(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: vboard32 CHIP [-usb]")
	}
	cfg := virtualboard.Config{Chip: args[0], Speed: 1000, MAC: [6]byte{0x24, 0x0A, 0xC4, 0x11, 0x22, 0x33}}
	for _, a := range args[1:] {
		switch a {
		case "-usb":
			cfg.USBJTAGSerial = true
		default:
			ts.Fatalf("vboard32: unknown flag %s", a)
		}
	}
	serveScriptBoard(ts, cfg)
}

// serveScriptBoard starts a virtual board on RFC 2217 at $VB for the
// script's lifetime (vbcorrupt finds it).
func serveScriptBoard(ts *testscript.TestScript, cfg virtualboard.Config) {
	b, err := virtualboard.New(cfg)
	ts.Check(err)
	srv, err := b.ServeRFC2217("127.0.0.1:0")
	ts.Check(err)
	ts.Defer(func() { srv.Close(); b.Close(); boards.Delete(ts) })
	boards.Store(ts, b)
	ts.Setenv("VB", srv.URL())
}

// vbcorrupt ADDR: clear four bytes of the board's flash at ADDR, behind
// any flasher's back (a factory programmer, another tool).
func cmdVBCorrupt(ts *testscript.TestScript, neg bool, args []string) {
	addr, err := strconv.ParseUint(args[0], 0, 32)
	ts.Check(err)
	v, ok := boards.Load(ts)
	if !ok {
		ts.Fatalf("vbcorrupt: no board in this script")
	}
	v.(*virtualboard.Board).Flash().Load(uint32(addr), []byte{0, 0, 0, 0})
}

// mkimage32 FILE CHIP [FLASHSIZE]: a small valid image for an
// ESP32-family chip (dio, 40m), with its SHA-256 appended.
func cmdMkimage32(ts *testscript.TestScript, neg bool, args []string) {
	size := "4MB"
	if len(args) > 2 {
		size = args[2]
	}
	b, err := image.NewBuilder(args[1])
	ts.Check(err)
	b.Entry = 0x40080000
	b.FlashMode, b.FlashSize, b.FlashFreq = "dio", size, "40m"
	b.Segments = []image.BuildSegment{{Addr: 0x40080000, Data: bytes.Repeat([]byte{0x12, 0x34, 0x56, 0x78}, 300)}}
	img, err := b.Build()
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), img, 0o644))
}

// flipbyte FILE OFFSET: invert one byte of a file.
func cmdFlipByte(ts *testscript.TestScript, neg bool, args []string) {
	off, err := strconv.ParseUint(args[1], 0, 32)
	ts.Check(err)
	p := ts.MkAbs(args[0])
	b, err := os.ReadFile(p)
	ts.Check(err)
	b[off] ^= 0xFF
	ts.Check(os.WriteFile(p, b, 0o644))
}
