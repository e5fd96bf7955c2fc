package main

import (
	"fmt"

	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/provision"
	"github.com/iotbench/iotbench/virtualboard"
	"github.com/iotbench/iotbench/virtualboard/esp32fw"
	"github.com/iotbench/iotbench/virtualboard/twin"
)

// esp32DemoTable is the table the ESP32 demo's merged image carries:
// arduino-esp32's default for 4 MB (filesystem-images.md §1.2).
func esp32DemoTable() *layout.PartitionTable {
	t, err := layout.ESP32DefaultTable("default", 4<<20)
	if err != nil {
		panic(err) // a built-in scheme
	}
	return t
}

// addESP32Boards gives the demo ESP32-family boards running the twin
// (LittleFS in the partition labelled spiffs, no OTA: ArduinoOTA and
// eboot here are the ESP8266's), blank, and has the pipeline flash a
// merged image — bootloader, partition table, app — at 0x0 with the
// filesystem.
func (e *demoEnv) addESP32Boards(chip string, speed float64, boards int, opts twin.Options, o provision.Options, dir string) error {
	opts.Layout = ""
	o.Layout = ""
	for i := 0; i < boards; i++ {
		board, err := virtualboard.New(virtualboard.Config{Chip: chip, Speed: speed, App: twin.App(opts), MAC: [6]byte{0x24, 0x0a, 0xc4, 0xd3, 0x10, byte(0x5e + i)}})
		if err != nil {
			return err
		}
		e.boards = append(e.boards, board)
		srv, err := board.ServeRFC2217("127.0.0.1:0")
		if err != nil {
			return &portError{err}
		}
		e.servers = append(e.servers, srv)
		name := "virtual " + chip
		if boards > 1 {
			name = fmt.Sprintf("virtual %s #%d", chip, i+1)
		}
		e.targets = append(e.targets, provision.Target{Name: name, Port: srv.URL()})
	}
	app, err := esp32fw.Merged(chip, esp32DemoTable(), 1)
	if err != nil {
		return err
	}
	o.App, o.AppName = app, "reference firmware (twin, merged with a bootloader and partition table)"
	if o.Ledger, err = provision.OpenLedger(dir + "/boards"); err != nil {
		return err
	}
	e.opts = o
	return nil
}
