package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/ota"
)

// otaPasswordEnv lets scripts pass the OTA password without putting it on
// the command line, where other users see it in the process list.
const otaPasswordEnv = "IOTBENCH_OTA_AUTH"

func init() {
	exitClassifiers = append(exitClassifiers, func(err error) (int, bool) {
		var oe *ota.Error
		if !errors.As(err, &oe) {
			return 0, false
		}
		switch oe.Kind {
		case ota.KindNoReply, ota.KindUnsupported:
			return exitConnect, true // nothing (or nothing ArduinoOTA-like) answered
		}
		return exitOperation, true // refused: password, Updater, broken transfer
	})
}

func (a *app) otaCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ota",
		Short: "Update boards over Wi-Fi (ArduinoOTA, espota-compatible) and find them with mDNS",
		Long: `Boards whose sketch runs ArduinoOTA (the reference firmware does) take new
firmware over the network, as the Arduino IDE's network port and espota.py
do: iotbench invites the board over UDP, answers its password challenge,
and the board connects back over TCP to fetch the image.

  iotbench ota discover                          boards on this network (mDNS)
  iotbench ota upload --host 192.168.1.20 firmware.bin
  iotbench ota upload --host bench-01.local --auth-file pw.txt firmware.bin
  iotbench ota upload --host 192.168.1.20 --spiffs fs.bin      filesystem image

An app update is staged beside the running sketch and copied over it by the
bootloader on the next boot, so a failed upload leaves the old firmware
running. A filesystem update is written in place.`,
	}
	cmd.AddCommand(a.otaDiscoverCommand(), a.otaUploadCommand())
	return cmd
}

func (a *app) otaDiscoverCommand() *cobra.Command {
	var timeout time.Duration
	var hosts []string
	cmd := &cobra.Command{
		Use:   "discover",
		Short: "List ArduinoOTA boards on the network (mDNS _arduino._tcp)",
		Long: `Asks the local network (multicast DNS, 224.0.0.251:5353) for ArduinoOTA boards
and lists each with its address, OTA port, board type and whether it wants
a password. A board only answers while its sketch calls ArduinoOTA.handle().

  iotbench ota discover
  iotbench ota discover --timeout 10s
  iotbench ota discover --host 192.168.1.20     ask one board directly
  iotbench --json ota discover`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			boards, err := ota.Discover(cmd.Context(), ota.DiscoverOptions{Timeout: timeout, Servers: hosts})
			if err != nil {
				return err
			}
			if boards == nil {
				boards = []ota.Board{}
			}
			if a.jsonOut {
				return a.out.result(map[string]any{"boards": boards})
			}
			if len(boards) == 0 {
				a.out.say("No ArduinoOTA board answered within %s. Is the board on this network, and does its sketch call ArduinoOTA.handle()? Try a longer --timeout, or ask it directly with --host.", timeout)
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tADDRESS\tPORT\tBOARD\tPASSWORD\tHOST")
			for _, b := range boards {
				pw := "no"
				if b.AuthUpload {
					pw = "yes"
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", b.Name, b.Addr, b.Port, orDash(b.BoardID), pw, orDash(b.Host))
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.DurationVar(&timeout, "timeout", 3*time.Second, "how long to listen for answers")
	f.StringArrayVar(&hosts, "host", nil, "ask this address directly (IP[:PORT], default port 5353) instead of the multicast group; repeatable")
	return cmd
}

func (a *app) otaUploadCommand() *cobra.Command {
	var o ota.Options
	var authFile string
	var spiffs bool
	var timeout, resultTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "upload --host HOST [flags] IMAGE",
		Short: "Send firmware (or a filesystem image) to a board over Wi-Fi, as espota.py does",
		Long: `Sends an application image (or, with --spiffs, a filesystem image) to a board
running ArduinoOTA. The board must be reachable and must be able to open a
TCP connection back to this computer (--host-port; allow it in a firewall).

  iotbench ota upload --host 192.168.1.20 firmware.bin
  iotbench ota upload --host esp8266-0a1b2c.local --port 8266 firmware.bin
  iotbench ota upload --host 192.168.1.20 --auth-file pw.txt firmware.bin
  IOTBENCH_OTA_AUTH=secret iotbench ota upload --host 192.168.1.20 firmware.bin
  iotbench ota upload --host 192.168.1.20 --spiffs fs.bin
  iotbench --json ota upload --host 192.168.1.20 firmware.bin   one event per line

The password is sent only as the answer to the board's challenge and is
never printed. --auth puts it on the command line, where other users of
this computer can see it: prefer --auth-file or $IOTBENCH_OTA_AUTH.

Exit codes: 4 when the board does not answer (or is not an ArduinoOTA
board), 5 when it refuses (password, image rejected, transfer broken),
6 for a bad image file.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Host == "" {
				return usagef("say which board with --host (an IP address or NAME.local; find boards with iotbench ota discover)")
			}
			pw, err := a.otaPassword(cmd, authFile)
			if err != nil {
				return err
			}
			o.Password = pw
			if spiffs {
				o.Target = ota.CommandFS
			}
			o.ReplyTimeout, o.AcceptTimeout, o.ResultTimeout = timeout, timeout, resultTimeout
			img, err := readInputFile(args[0])
			if err != nil {
				return err
			}
			if _, err := os.Stat(args[0] + ".signed"); err == nil {
				a.out.say("Note: %s.signed exists; espota.py would silently upload that instead. iotbench uploads exactly the file given.", args[0])
			}
			r := &otaRenderer{a: a, file: filepath.Base(args[0])}
			res, err := ota.Upload(cmd.Context(), o, img, r.event)
			a.out.finishLine()
			if err != nil {
				return err
			}
			return a.out.result(res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Host, "host", "", "the board: IP address or mDNS name (NAME.local)")
	f.IntVar(&o.Port, "port", ota.DefaultPort, "the board's ArduinoOTA port (arduino-esp32 uses 3232)")
	f.StringVar(&o.Password, "auth", "", "OTA password (visible to other users in the process list; prefer --auth-file or $"+otaPasswordEnv+")")
	f.StringVar(&authFile, "auth-file", "", "read the OTA password from this file (its first line)")
	f.BoolVar(&spiffs, "spiffs", false, "the image is a filesystem image (SPIFFS or LittleFS) for the FS region, not firmware")
	f.StringVar(&o.LocalAddr, "host-ip", "", "this computer's IP address the board connects back to (default: the one on the route to the board)")
	f.IntVar(&o.LocalPort, "host-port", 0, "TCP port the board connects back to (default: a free one); open it in the firewall")
	f.DurationVar(&timeout, "timeout", 10*time.Second, "wait this long for each answer of the board and for its connection")
	f.DurationVar(&resultTimeout, "result-timeout", 60*time.Second, "wait this long after the last byte for the board's verdict")
	f.StringArrayVar(&o.MDNS, "mdns", nil, "resolve NAME.local by asking this address (IP[:PORT]) instead of multicast")
	f.MarkHidden("mdns")
	return cmd
}

// otaPassword picks the password from --auth, --auth-file or the
// environment, in that order of precedence, refusing two at once.
func (a *app) otaPassword(cmd *cobra.Command, authFile string) (string, error) {
	flagSet := cmd.Flags().Changed("auth")
	pw, _ := cmd.Flags().GetString("auth")
	if flagSet && authFile != "" {
		return "", usagef("give the password with --auth or --auth-file, not both")
	}
	if authFile != "" {
		b, err := os.ReadFile(authFile)
		if err != nil {
			return "", &flasher.InputError{Msg: fmt.Sprintf("--auth-file %s: cannot read it: %v", authFile, errors.Unwrap(err))}
		}
		line, _, _ := strings.Cut(string(b), "\n")
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			return "", &flasher.InputError{Msg: fmt.Sprintf("--auth-file %s: the first line is empty; put the password there", authFile)}
		}
		return line, nil
	}
	if !flagSet {
		pw = a.getenv(otaPasswordEnv)
	}
	return pw, nil
}

// otaRenderer prints upload events: lines, a progress bar on a terminal,
// or JSON lines.
type otaRenderer struct {
	a    *app
	file string
}

func (r *otaRenderer) event(e ota.Event) {
	o := r.a.out
	if o.json {
		o.jsonLine(e.EventType(), e)
		return
	}
	switch e := e.(type) {
	case ota.InviteEvent:
		o.say("Uploading %s (%d bytes, MD5 %s) to %s as %s", r.file, e.Size, e.MD5, e.Device, e.Target)
	case ota.AuthEvent:
		o.say("The board asked for the password; answered its challenge.")
	case ota.AcceptedEvent:
		o.say("Accepted; waiting for the board to connect back...")
	case ota.ConnectedEvent:
		o.say("Board connected from %s; sending...", e.Remote)
	case ota.ProgressEvent:
		r.progress(e)
	case ota.VerifyEvent:
		o.finishLine()
		o.say("Sent; waiting for the board to check the image...")
	case ota.WarningEvent:
		o.say("Warning: %s", e.Message)
	case ota.DoneEvent:
		kbit := 0.0
		if e.Elapsed > 0 {
			kbit = float64(e.Size) * 8 / 1000 / e.Elapsed.Seconds()
		}
		o.say("Done: %d bytes in %.1f s (%.1f kbit/s); the board verified the MD5.", e.Size, e.Elapsed.Seconds(), kbit)
		if e.Target == ota.CommandFlash.String() {
			o.say("It now restarts into the new firmware (ESP8266: eboot copies it into place first, its serial log shows \"@cp:\" and 0 for success; ESP32: the bootloader loads the other OTA slot).")
		} else {
			o.say("The filesystem image is in place; the board restarts.")
		}
	}
}

// progress draws the bar on a terminal, at most every 100 ms.
func (r *otaRenderer) progress(e ota.ProgressEvent) {
	o := r.a.out
	if !o.tty || e.Total <= 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	if e.Sent < e.Total && now.Sub(o.lastDraw) < 100*time.Millisecond {
		return
	}
	o.lastDraw = now
	fmt.Fprintf(o.stderr, "\rSending %s %6.1f kbit/s ", o.bar.ViewAs(float64(e.Sent)/float64(e.Total)), e.BytesPerSecond()*8/1000)
	o.inBar = true
}
