package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/provision"
	"github.com/iotbench/iotbench/tui"
	"github.com/iotbench/iotbench/tui/device"
	"github.com/iotbench/iotbench/tui/virtual"
)

type tuiFlags struct {
	virtual    bool
	speed      float64
	app, fs    string
	elf        string
	baud       int
	bootBaud   int
	noIdentify bool
	mouse      bool
	baudSet    bool // --baud given: the flashing rate; else 460800 with a stub
	cloudDir   string
}

// defaultTUIFlags are the tui command's defaults, for iotbench with no
// arguments.
func defaultTUIFlags() tuiFlags {
	return tuiFlags{speed: 10, baud: 115200, bootBaud: 74880}
}

func (a *app) tuiCommand() *cobra.Command {
	f := defaultTUIFlags()
	cmd := &cobra.Command{
		Use:   "tui",
		Short: "The bench on one screen: boards, serial monitor, flashing, provisioning, topics, doctor, timeline",
		Long: `Open the terminal UI (also what iotbench with no arguments does on a
terminal). The board list shows every ESP-looking USB serial port (and
--port, if given) with its chip, MAC and state; the views show the selected
board:

  Monitor   decoded serial output, crash reports with file:line (--elf),
            search, filter, pause, hex, send a line, reset keys, a plot of
            the numbers in the log
  Flash     application image, filesystem folder or image, layout (automatic
            from the chip's flash size), progress per region, cancel
  Provision the wizard (cloud: the local cloud or AWS IoT with a profile and
            region; thing name from the MAC; Wi-Fi; sensors; the device
            policy previewed with what it allows and denies), then the
            pipeline step by step to a verified publish
  Topics    the local cloud's broker: topic tree with counts and rates, the
            selected topic's payload, changes, charts and history; publish
            and clear retained messages
  Doctor    the last run's findings, ranked, with the fix and the evidence
            (enter on a serial line opens it in the monitor); x examines
            the live board
  Timeline  serial, flash, provisioning and MQTT events of every board,
            searchable, exported as JSON lines

Each port has one owner: flashing or provisioning stops the monitor, does its
work, and resumes it (the boot log the pipeline watches is copied to the
monitor). The local cloud's broker is the running 'iotbench cloud serve', or
one this process serves on 0.0.0.0:8883 while the TUI runs. The wizard's
Wi-Fi fields start from $IOTBENCH_WIFI_SSID and $IOTBENCH_WIFI_PASSWORD.

--virtual adds a virtual ESP8266 (blank flash, clock sped up by --speed) with
a demo application image ready in the Flash view, to try it all without
hardware. Press ? in the TUI for every key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.baudSet = cmd.Flags().Changed("baud")
			return a.runTUI(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.virtual, "virtual", false, "add a virtual ESP8266 (no hardware needed)")
	fl.Float64Var(&f.speed, "speed", f.speed, "clock speed-up of virtual boards")
	fl.StringVar(&f.app, "app", "", "application image for the Flash view")
	fl.StringVar(&f.fs, "fs", "", "filesystem folder or image for the Flash view")
	fl.StringVar(&f.elf, "elf", "", "the application's ELF, to turn crash addresses into function and file:line")
	fl.IntVar(&f.baud, "monitor-baud", f.baud, "the application's baud rate (Serial.begin)")
	fl.IntVar(&f.bootBaud, "boot-baud", f.bootBaud, "baud rate of the ROM's boot output (0 = do not switch)")
	fl.BoolVar(&f.noIdentify, "no-identify", false, "do not ask a new board's ROM loader for chip, MAC and flash size (which resets it)")
	fl.BoolVar(&f.mouse, "mouse", false, "mouse wheel scrolling and clickable tabs (takes text selection away from the terminal)")
	fl.StringVar(&f.cloudDir, "cloud-dir", "", "local cloud data directory (default $XDG_DATA_HOME/iotbench/localcloud)")
	return cmd
}

// tuiWanted: iotbench with no arguments opens the TUI only when a person
// is at a terminal; in a pipe or a script it prints the help.
func (a *app) tuiWanted() bool {
	in, ok1 := a.stdin.(*os.File)
	out, ok2 := a.stdout.(*os.File)
	return ok1 && ok2 && term.IsTerminal(in.Fd()) && term.IsTerminal(out.Fd())
}

func (a *app) runTUI(ctx context.Context, f tuiFlags) error {
	if f.baud <= 0 || f.bootBaud < 0 {
		return usagef("--monitor-baud %d / --boot-baud %d: use positive rates such as 115200 and 74880", f.baud, f.bootBaud)
	}
	if a.stubFile != "" && a.noStub {
		return usagef("--stub-file and --no-stub contradict each other")
	}
	for _, p := range []struct{ flag, path string }{{"--app", f.app}, {"--fs", f.fs}, {"--elf", f.elf}} {
		if p.path != "" {
			if _, err := os.Stat(p.path); err != nil {
				return &flasher.InputError{Msg: fmt.Sprintf("%s %s: %v", p.flag, p.path, err)}
			}
		}
	}
	flashBaud := 460800
	if f.baudSet {
		flashBaud = a.baud
	}
	bootBaud := f.bootBaud
	if bootBaud == 0 {
		bootBaud = f.baud // the session does not switch when both are equal
	}
	o := tui.Options{
		Scan:     a.port == "",
		Identify: !f.noIdentify,
		App:      f.app, FS: f.fs,
		Getenv: a.getenv,
		Mouse:  f.mouse,
		Device: device.Config{
			Baud: f.baud, BootBaud: bootBaud, FlashBaud: flashBaud,
			NoStub: a.noStub, StubFile: a.stubFile, ELF: f.elf,
		},
	}
	if a.port != "" {
		o.Boards = append(o.Boards, device.Spec{Port: a.port})
	}
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	clouds := a.newTUIClouds(f.cloudDir)
	closers = append(closers, clouds.close)
	po, err := a.tuiPipelineOptions(f.app)
	if err != nil {
		return err
	}
	o.Provision = clouds.provisionConfig(po, tui.WizardDefaults{Cloud: "local",
		SSID: a.getenv("IOTBENCH_WIFI_SSID"), Password: a.getenv("IOTBENCH_WIFI_PASSWORD")})
	o.Topics = &tui.TopicsConfig{Name: "local cloud", Viewer: clouds.viewer}
	n := 0
	newVirtual := func() (device.Spec, func(), error) {
		n++
		// Espressif's OUI, and a MAC of its own for every board.
		mac := [6]byte{0x18, 0xfe, 0x34, 0xab, 0x34, byte(0x59 + n)}
		b, err := virtual.New(virtual.Options{Speed: f.speed, Stub: true, MAC: mac, Name: fmt.Sprintf("virtual:esp8266-%d", n)})
		if err != nil {
			return device.Spec{}, nil, err
		}
		return b.Spec(), func() { b.Close() }, nil
	}
	o.NewVirtual = newVirtual
	if f.virtual {
		spec, closeBoard, err := newVirtual()
		if err != nil {
			return err
		}
		closers = append(closers, closeBoard)
		o.Boards = append(o.Boards, spec)
		if o.App == "" {
			// Something to flash: the image that makes the virtual ROM
			// hand over to the demo application.
			dir, err := os.MkdirTemp("", "iotbench-tui-")
			if err != nil {
				return err
			}
			closers = append(closers, func() { os.RemoveAll(dir) })
			img, err := virtual.SketchImage()
			if err != nil {
				return err
			}
			o.App = filepath.Join(dir, "demo-sketch.bin")
			if err := os.WriteFile(o.App, img, 0o644); err != nil {
				return err
			}
		}
	}
	return tui.Run(ctx, o)
}

// tuiPipelineOptions are the wizard's pipeline options from the global
// flags (the transfer rate, stub, reset mode), the ledger, and --app as
// the firmware to flash with the board's files.
func (a *app) tuiPipelineOptions(app string) (provision.Options, error) {
	o, err := a.transferOptions()
	if err != nil {
		return o, err
	}
	if app != "" {
		b, err := readInputFile(app)
		if err != nil {
			return o, err
		}
		o.App, o.AppName = b, app
	}
	led, err := provision.OpenLedger("")
	if err != nil {
		return o, err
	}
	o.Ledger = led
	return o, nil
}
