package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// app carries what every command shares: streams and the global flags
// (soft-serve's "common" idea, without a TUI yet).
type app struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer

	port            string
	baud            int
	before, after   string
	chip            string
	noStub          bool
	stubFile        string
	jsonOut         bool
	trace           bool
	connectAttempts int

	out *output
}

func newApp(getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) *app {
	return &app{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "iotbench",
		Short: "Take an ESP8266/ESP32 board from a USB port to a verified MQTT publish",
		Long: `iotbench flashes and inspects ESP boards over their serial bootloader,
esptool-compatible, and (in later releases) provisions them for AWS IoT or a
built-in local cloud.

Quick start, no hardware needed:
  iotbench demo                       flash a virtual ESP8266 and watch it boot

With a board on USB:
  iotbench chip-id                    identify the chip (port picked automatically)
  iotbench write-flash 0x0 app.bin    flash an image
  iotbench virtual-board              serve a virtual board on a pty and RFC 2217
                                      (usable by iotbench and by esptool)`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			a.out = newOutput(a.stdout, a.stderr, a.jsonOut)
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.tuiWanted() {
				return a.runTUI(cmd.Context(), defaultTUIFlags())
			}
			return cmd.Help()
		},
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usagef("%v (see %s --help)", err, c.CommandPath())
	})
	pf := root.PersistentFlags()
	pf.StringVarP(&a.port, "port", "p", a.getenv("IOTBENCH_PORT"), "serial port: a device path (/dev/ttyUSB0, COM3) or rfc2217://HOST:PORT; default: the only ESP-looking USB port ($IOTBENCH_PORT)")
	pf.IntVarP(&a.baud, "baud", "b", 115200, "baud rate for the transfer; connecting always starts at ≤115200 and switches when a stub is running")
	pf.StringVar(&a.before, "before", "default-reset", "how to enter the bootloader: default-reset, usb-reset, no-reset, no-reset-no-sync")
	pf.StringVarP(&a.after, "after", "a", "hard-reset", "what to do at the end: hard-reset, soft-reset, no-reset, no-reset-stub")
	pf.StringVarP(&a.chip, "chip", "c", "auto", "chip type: auto, esp8266, esp32, esp32s2, esp32s3, esp32c3, esp32c2, esp32c6, esp32h2, esp32c5, esp32c61, esp32p4")
	pf.BoolVar(&a.noStub, "no-stub", false, "talk to the ROM loader only (no flasher stub): slower, and no MD5 verify on the ESP8266")
	pf.StringVar(&a.stubFile, "stub-file", "", "flasher stub in esptool's JSON format (default: the one of an installed esptool, if any)")
	pf.BoolVar(&a.jsonOut, "json", false, "print one JSON event per line on stdout instead of text")
	pf.BoolVar(&a.trace, "trace", false, "trace every packet on stderr (debugging)")
	pf.IntVar(&a.connectAttempts, "connect-attempts", 7, "reset-and-sync attempts before giving up (negative: forever)")
	root.SetGlobalNormalizationFunc(func(f *pflag.FlagSet, name string) pflag.NormalizedName {
		// esptool spells flags with underscores (--flash_mode); accept both.
		return pflag.NormalizedName(strings.ReplaceAll(name, "_", "-"))
	})
	root.AddCommand(
		a.demoCommand(),
		a.portsCommand(),
		a.chipIDCommand(),
		a.readMACCommand(),
		a.flashIDCommand(),
		a.writeFlashCommand(),
		a.readFlashCommand(),
		a.eraseFlashCommand(),
		a.eraseRegionCommand(),
		a.imageInfoCommand(),
		a.virtualBoardCommand(),
		a.monitorCommand(),
		a.layoutsCommand(),
		a.partitionsCommand(),
		a.mergeBinCommand(),
		a.fsCommand(),
		a.awsCommand(),
		a.cloudCommand(),
		a.mqttCommand(),
		a.otaCommand(),
		a.provisionCommand(),
		a.doctorCommand(),
		a.versionCommand(),
		a.tuiCommand(),
	)
	return root
}

// reportError prints the error (text, or a JSON event) and picks the code.
func (a *app) reportError(ctx context.Context, err error) int {
	code := exitCode(ctx, err)
	msg := err.Error()
	if code == exitInterrupted {
		msg = "interrupted"
	}
	if a.jsonOut {
		b, _ := json.Marshal(map[string]any{"type": "error", "message": msg, "exit_code": code})
		fmt.Fprintln(a.stdout, string(b))
	}
	if a.out != nil {
		a.out.finishLine()
	}
	fmt.Fprintf(a.stderr, "iotbench: %s\n", msg)
	return code
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.jsonOut {
				return a.out.result(map[string]any{"version": version})
			}
			fmt.Fprintln(a.stdout, "iotbench", version)
			return nil
		},
	}
}

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"
