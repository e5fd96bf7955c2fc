package main

import (
	"os"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/virtualboard"
	"github.com/iotbench/iotbench/virtualboard/esp32fw"
	"github.com/iotbench/iotbench/virtualboard/twin"
)

func init() {
	scriptCmds["vbtwin32"] = cmdVBTwin32
	scriptCmds["mkmerged32"] = cmdMkMerged32
}

// vbtwin32 CHIP: a virtual ESP32-family board (clock ×100) whose firmware
// is the reference firmware's twin (LittleFS in the partition labelled
// spiffs), on RFC 2217 at $VB.
func cmdVBTwin32(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: vbtwin32 CHIP")
	}
	chip, err := image.CanonicalChip(args[0])
	ts.Check(err)
	serveScriptBoard(ts, virtualboard.Config{Chip: chip, Speed: 100, MAC: [6]byte{0x24, 0x0A, 0xC4, 0x11, 0x22, 0x33},
		App: twin.App(twin.Options{FS: layout.LittleFS})})
}

// mkmerged32 FILE CHIP [SCHEME]: the stand-in bootloader, partition table
// (an arduino-esp32 scheme, default "default") and app for CHIP, merged
// from 0x0 as merge-bin writes them.
func cmdMkMerged32(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: mkmerged32 FILE CHIP [SCHEME]")
	}
	scheme := "default"
	if len(args) > 2 {
		scheme = args[2]
	}
	pt, err := layout.ESP32DefaultTable(scheme, 0)
	ts.Check(err)
	img, err := esp32fw.Merged(strings.ToUpper(args[1]), pt, 1)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), img, 0o644))
}
