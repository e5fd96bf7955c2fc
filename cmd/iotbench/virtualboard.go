package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/virtualboard"
)

type vbFlags struct {
	model       string
	speed       float64
	flashSize   string
	mac         string
	rfcAddr     string
	pty         bool
	openBoot    string
	flashFile   string
	drop        float64
	corrupt     float64
	seed        uint64
	noAutoReset bool
	mute        bool
	garbage     bool
	verbose     bool
}

func (a *app) virtualBoardCommand() *cobra.Command {
	var f vbFlags
	cmd := &cobra.Command{
		Use:     "virtual-board",
		Aliases: []string{"virtual_board", "vboard"},
		Short:   "Run a virtual ESP8266 on a pseudo-terminal and an RFC 2217 port",
		Long: `Run a software ESP8266 that behaves like the chip: ROM loader with the
74880-baud boot banner and the erase-size bug, NOR flash with datasheet
timing, the DTR/RTS auto-reset circuit, and esptool's flasher stub once one
is uploaded. It is served on a pseudo-terminal (a device path; opening it
counts as a reset, since a pty has no DTR/RTS) and on an RFC 2217 port on
loopback, so iotbench and esptool can use it without hardware:

  iotbench --port rfc2217://127.0.0.1:PORT chip-id
  esptool.py --port 'rfc2217://127.0.0.1:PORT?ign_set_control' flash_id
  esptool.py --port /dev/pts/N --before no_reset write_flash 0x0 app.bin

Stop it with Ctrl-C. --flash-file keeps the flash contents between runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runVirtualBoard(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "esp8266", "chip to model: esp8266 (full), or an ESP32-family chip (identification only)")
	fl.Float64Var(&f.speed, "speed", 1, "run the board's clock this many times faster than real time (UART and flash timing)")
	fl.StringVar(&f.flashSize, "flash-size", "4MB", "flash size: 512KB … 16MB")
	fl.StringVar(&f.mac, "mac", "18:fe:34:ab:34:5a", "station MAC address")
	fl.StringVar(&f.rfcAddr, "rfc2217", "127.0.0.1:0", "RFC 2217 listen address (loopback; port 0 = any free one); 'off' to disable")
	fl.BoolVar(&f.pty, "pty", runtime.GOOS == "linux", "serve on a pseudo-terminal too (Linux)")
	fl.StringVar(&f.openBoot, "pty-open", "download", "what opening the pty does: download (reset into the ROM loader), flash (reset and boot), none")
	fl.StringVar(&f.flashFile, "flash-file", "", "load flash contents from this file at start (if it exists) and save them back on exit")
	fl.Float64Var(&f.drop, "drop-rate", 0, "fault injection: probability that a byte on the line is lost")
	fl.Float64Var(&f.corrupt, "corrupt-rate", 0, "fault injection: probability that a byte on the line is corrupted")
	fl.Uint64Var(&f.seed, "seed", 1, "seed for fault injection")
	fl.BoolVar(&f.noAutoReset, "no-auto-reset", false, "model a board without the DTR/RTS auto-reset circuit (the host cannot reset it)")
	fl.BoolVar(&f.mute, "mute", false, "fault injection: the chip never answers")
	fl.BoolVar(&f.garbage, "garbage", false, "fault injection: the chip answers every command with garbage")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log what the board does (resets, baud changes, erases) on stderr")
	return cmd
}

func parseMAC(s string) ([6]byte, error) {
	var m [6]byte
	b, err := hex.DecodeString(strings.NewReplacer(":", "", "-", "").Replace(s))
	if err != nil || len(b) != 6 {
		return m, usagef("bad --mac %q: use six hex bytes like 18:fe:34:ab:34:5a", s)
	}
	copy(m[:], b)
	return m, nil
}

func (a *app) runVirtualBoard(ctx context.Context, f vbFlags) error {
	mac, err := parseMAC(f.mac)
	if err != nil {
		return err
	}
	size, err := parseNumber(f.flashSize)
	if err != nil {
		return usagef("bad --flash-size: %v", err)
	}
	openBoot := map[string]virtualboard.OpenBoot{"download": virtualboard.OpenBootDownload, "flash": virtualboard.OpenBootFlash, "none": virtualboard.OpenBootNone}
	ob, ok := openBoot[f.openBoot]
	if !ok {
		return usagef("bad --pty-open %q: use download, flash or none", f.openBoot)
	}
	cfg := virtualboard.Config{
		Chip: f.model, MAC: mac, FlashSize: int(size), Speed: f.speed, NoAutoReset: f.noAutoReset,
		Noise: virtualboard.Noise{DropRate: f.drop, CorruptRate: f.corrupt, Seed: f.seed},
	}
	if f.verbose {
		cfg.Log = func(s string) { fmt.Fprintln(a.stderr, "board:", s) }
	}
	b, err := virtualboard.New(cfg)
	if err != nil {
		return usagef("%v", err)
	}
	defer b.Close()
	b.SetMute(f.mute)
	b.SetGarbage(f.garbage)
	if f.flashFile != "" {
		if data, err := os.ReadFile(f.flashFile); err == nil {
			if len(data) != b.Flash().Size() {
				return &flasher.InputError{Msg: fmt.Sprintf("--flash-file %s holds %d bytes but the board has %d bytes of flash: use --flash-size to match, or another file", f.flashFile, len(data), b.Flash().Size())}
			}
			b.Flash().Load(0, data)
		} else if !os.IsNotExist(err) {
			return &flasher.InputError{Msg: fmt.Sprintf("--flash-file: %v", err)}
		}
	}
	info := map[string]any{"chip": b.Chip().Name, "mac": f.mac, "flash_size": b.Flash().Size(), "speed": f.speed}
	if f.rfcAddr != "off" {
		srv, err := b.ServeRFC2217(f.rfcAddr)
		if err != nil {
			return &portError{err}
		}
		defer srv.Close()
		info["rfc2217"] = srv.URL()
	}
	if f.pty {
		p, err := servePTY(b, ob)
		if err != nil {
			return &portError{err}
		}
		if p != nil {
			defer p.Close()
			info["pty"] = p.Path()
		}
	}
	if a.jsonOut {
		a.out.jsonLine("virtual_board", info)
	} else {
		a.out.say("Virtual %s: MAC %s, %d KB flash (W25Q32-class timing), clock ×%g", b.Chip().Name, f.mac, b.Flash().Size()>>10, f.speed)
		if u, ok := info["rfc2217"]; ok {
			a.out.say("RFC 2217: %s", u)
			a.out.say("          iotbench --port %s chip-id", u)
			a.out.say("          esptool.py --port '%s?ign_set_control' flash_id", u)
		}
		if p, ok := info["pty"]; ok {
			a.out.say("PTY:      %s  (opening it resets the board: --pty-open %s)", p, f.openBoot)
		}
		a.out.say("Press Ctrl-C to stop.")
	}
	<-ctx.Done()
	if f.flashFile != "" {
		if err := writeFileAtomic(f.flashFile, b.Flash().Snapshot(), 0o644); err != nil {
			return &flasher.InputError{Msg: fmt.Sprintf("saving --flash-file: %v", err)}
		}
		a.out.say("Flash saved to %s.", f.flashFile)
	}
	return nil
}
