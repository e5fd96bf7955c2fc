package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/serialmon"
	"github.com/iotbench/iotbench/serialmon/decode"
)

type monitorFlags struct {
	baud       int
	bootBaud   int
	elf        string
	timestamps bool
	logFile    string
	rawLog     string
	raw        bool
	hexView    bool
	eol        string
	duration   time.Duration
	reset      bool
}

func (a *app) monitorCommand() *cobra.Command {
	var f monitorFlags
	cmd := &cobra.Command{
		Use:   "monitor",
		Short: "Show a board's serial output, decoded (boot banner, crashes, Wi-Fi/NTP/TLS/MQTT)",
		Long: `A line-oriented serial monitor that understands ESP boards. After a reset it
reads the ESP8266 ROM's banner at 74880 baud (--boot-baud) and switches to
the application's rate (--baud) when the ROM output is over. Lines that
mean something are explained underneath: reset causes, boot modes, crash
reports (with --elf, addresses become function and file:line), Wi-Fi, NTP,
BearSSL, MQTT and the reference firmware's #IB status lines. When the board
is unplugged the monitor says so and picks it up again when it comes back.

Keys (on a terminal), as in idf monitor:
  Ctrl-T Ctrl-R   reset the board
  Ctrl-T Ctrl-P   reset into the bootloader
  Ctrl-T Ctrl-Y   pause / resume output (reading and logging go on)
  Ctrl-T Ctrl-B   next baud rate (74880, 115200, 230400, 460800, 921600)
  Ctrl-T Ctrl-H   help
  Ctrl-] or Ctrl-T Ctrl-X   quit
Typed text is sent to the board; Enter sends --eol.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runMonitor(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.baud, "baud", 115200, "the application's baud rate (Serial.begin)")
	fl.IntVar(&f.bootBaud, "boot-baud", 74880, "baud rate of the boot ROM's output after a reset (74880 on an ESP8266 with a 26 MHz crystal; 0 = do not switch)")
	fl.StringVar(&f.elf, "elf", "", "the application's ELF file, to turn crash addresses into function and file:line")
	fl.BoolVar(&f.timestamps, "timestamps", false, "prefix each line with the host time it arrived")
	fl.StringVar(&f.logFile, "log", "", "append lines (with timestamps) and decoded events to this file")
	fl.StringVar(&f.rawLog, "log-raw", "", "append every received byte, unchanged, to this file")
	fl.BoolVar(&f.raw, "raw", false, "print the bytes as received (no decoding, no escaping)")
	fl.BoolVar(&f.hexView, "hex", false, "print a hex dump of what is received")
	fl.StringVar(&f.eol, "eol", "crlf", "line ending sent for Enter: crlf, lf, cr")
	fl.DurationVar(&f.duration, "duration", 0, "stop after this long (for scripts; 0 = until Ctrl-])")
	fl.BoolVar(&f.reset, "reset", false, "reset the board when starting (shows its boot from the ROM banner on)")
	// The root's --baud means the flashing rate; the monitor has its own.
	return cmd
}

var eols = map[string]string{"crlf": "\r\n", "lf": "\n", "cr": "\r"}

// monitorBauds are the rates Ctrl-T Ctrl-B cycles through.
var monitorBauds = []int{74880, 115200, 230400, 460800, 921600}

func nextBaud(cur int) int {
	for i, b := range monitorBauds {
		if b > cur {
			return monitorBauds[i]
		}
	}
	return monitorBauds[0]
}

func (a *app) runMonitor(ctx context.Context, f monitorFlags) error {
	eol, ok := eols[strings.ToLower(f.eol)]
	if !ok {
		return usagef("--eol %q: use crlf, lf or cr", f.eol)
	}
	if f.raw && f.hexView {
		return usagef("--raw and --hex contradict each other")
	}
	if f.baud <= 0 || f.bootBaud < 0 {
		return usagef("--baud %d: use a positive rate such as 115200", f.baud)
	}
	dec, err := newLineDecoder(f.elf, a.chip)
	if err != nil {
		return &flasher.InputError{Msg: err.Error()}
	}
	spec := a.port
	if spec == "" {
		ports, err := serialmon.ListPorts()
		if err != nil {
			return &portError{fmt.Errorf("listing serial ports: %w (pass --port)", err)}
		}
		p, err := serialmon.ChoosePort(ports)
		if err != nil {
			return err
		}
		spec = p.Path
	}
	var logw io.Writer
	if f.logFile != "" {
		lf, err := os.OpenFile(f.logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return &flasher.InputError{Msg: fmt.Sprintf("--log: %v", err)}
		}
		defer lf.Close()
		logw = lf
	}
	opts := serialmon.SessionOptions{Port: spec, Baud: f.baud, BootBaud: f.bootBaud}
	if f.rawLog != "" {
		rf, err := os.OpenFile(f.rawLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return &flasher.InputError{Msg: fmt.Sprintf("--log-raw: %v", err)}
		}
		defer rf.Close()
		opts.RawLog = rf
	}
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := serialmon.StartSession(ctx, opts)
	if err != nil {
		return &portError{err}
	}
	defer s.Close()

	// Output is buffered and flushed whenever no item is waiting, so a
	// fast stream costs one write per burst rather than per line.
	bw := bufio.NewWriterSize(a.stdout, 64<<10)
	defer bw.Flush()
	r := &monitorRenderer{out: bw, errOut: a.stderr, json: a.jsonOut, timestamps: f.timestamps, raw: f.raw, hexView: f.hexView, log: logw, dec: dec}
	// On a terminal, keys go to the board one by one (raw mode) and lines
	// end in CR LF.
	if fd, ok := a.stdin.(*os.File); ok && term.IsTerminal(fd.Fd()) {
		if st, err := term.MakeRaw(fd.Fd()); err == nil {
			defer term.Restore(fd.Fd(), st)
			r.crlf = true
		}
	}
	if f.reset {
		if err := s.Reset(); err != nil {
			r.status(time.Now(), "reset failed: "+err.Error())
		}
	}
	if a.stdin != nil {
		go a.monitorKeys(ctx, cancel, s, r, eol, f.baud)
	}
	for {
		select {
		case it, ok := <-s.Items():
			if !ok {
				return nil
			}
			r.item(it)
			continue
		default:
		}
		r.flush(bw)
		select {
		case it, ok := <-s.Items():
			if !ok {
				return nil
			}
			r.item(it)
		case <-ctx.Done():
			// Show what already arrived, then stop.
			s.Close()
			for it := range s.Items() {
				r.item(it)
			}
			return nil
		}
	}
}

func (r *monitorRenderer) flush(w *bufio.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w.Flush()
}

// monitorKeys reads the keyboard (or piped input) and handles the Ctrl-T
// menu the way idf monitor does.
func (a *app) monitorKeys(ctx context.Context, quit context.CancelFunc, s *serialmon.Session, r *monitorRenderer, eol string, baud int) {
	in := bufio.NewReader(a.stdin)
	menu := false
	paused := false
	for ctx.Err() == nil {
		b, err := in.ReadByte()
		if err != nil {
			return // piped input ended: keep monitoring
		}
		if menu {
			menu = false
			switch b {
			case 0x12, 'r', 'R':
				if err := s.Reset(); err != nil {
					r.status(time.Now(), "reset failed: "+err.Error())
				}
			case 0x10, 'p', 'P':
				if err := s.ResetToBootloader(); err != nil {
					r.status(time.Now(), "reset failed: "+err.Error())
				}
			case 0x19, 'y', 'Y':
				paused = !paused
				s.SetPaused(paused)
			case 0x18, 'x', 'X', 'q', 'Q':
				quit()
				return
			case 0x02, 'b', 'B':
				baud = nextBaud(baud)
				if err := s.SetBaud(baud); err != nil {
					r.status(time.Now(), "baud change failed: "+err.Error())
				}
			case 0x14:
				s.Send([]byte{0x14})
			default:
				r.status(time.Now(), "Ctrl-T then: Ctrl-R reset, Ctrl-P bootloader, Ctrl-Y pause/resume, Ctrl-B next baud rate, Ctrl-X quit (Ctrl-] quits too)")
			}
			continue
		}
		switch b {
		case 0x14:
			menu = true
		case 0x1D:
			quit()
			return
		case '\r', '\n':
			if r.crlf || b == '\n' {
				s.Send([]byte(eol))
			}
		default:
			s.Send([]byte{b})
		}
	}
}

// monitorRenderer prints session items and decoded events.
type monitorRenderer struct {
	mu         sync.Mutex
	out        io.Writer
	errOut     io.Writer // status lines when stdout carries raw bytes
	json       bool
	timestamps bool
	raw        bool
	hexView    bool
	crlf       bool
	log        io.Writer
	dec        lineDecoder
	series     decode.SeriesParser
	hexOff     int
	shown      string // the part of the current line an ItemPartial printed
}

func (r *monitorRenderer) nl() string {
	if r.crlf {
		return "\r\n"
	}
	return "\n"
}

func (r *monitorRenderer) stamp(t time.Time) string {
	if !r.timestamps {
		return ""
	}
	return "[" + t.Format("15:04:05.000") + "] "
}

func (r *monitorRenderer) writeJSON(typ string, v any) {
	o := &output{stdout: r.out, json: true}
	o.jsonLine(typ, v)
}

func (r *monitorRenderer) status(t time.Time, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.json {
		r.writeJSON("status", map[string]any{"time": t, "text": text})
		return
	}
	w := r.out
	if r.raw || r.hexView {
		w = r.errOut
	}
	fmt.Fprintf(w, "--- %s ---%s", text, r.nl())
	if r.log != nil {
		fmt.Fprintf(r.log, "[%s] --- %s ---\n", t.Format(time.RFC3339Nano), text)
	}
}

func (r *monitorRenderer) item(it serialmon.Item) {
	if it.Kind == serialmon.ItemStatus {
		r.status(it.Time, it.Text)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.raw:
		r.out.Write(it.Raw)
	case r.hexView:
		for off := 0; off < len(it.Raw); off += 16 {
			row := it.Raw[off:min(off+16, len(it.Raw))]
			fmt.Fprintf(r.out, "%08x  %-48s |%s|%s", r.hexOff, spacedHex(row), printable(row), r.nl())
			r.hexOff += len(row)
		}
	case r.json:
		if it.Kind == serialmon.ItemLine {
			obj := map[string]any{"time": it.Time, "text": escapeText(it.Text), "baud": it.Baud}
			// Numeric fields as named series, for plotting (key=value,
			// key:value, CSV rows).
			if s := r.series.Line(it.Text); len(s) > 0 {
				obj["series"] = s
			}
			r.writeJSON("line", obj)
		}
	default:
		text := escapeText(it.Text)
		if it.Kind == serialmon.ItemPartial {
			if r.shown == "" {
				fmt.Fprint(r.out, r.stamp(it.Time))
			}
			if strings.HasPrefix(text, r.shown) {
				fmt.Fprint(r.out, text[len(r.shown):])
				r.shown = text
			}
			return
		}
		switch {
		case r.shown == "":
			fmt.Fprint(r.out, r.stamp(it.Time)+text+r.nl())
		case strings.HasPrefix(text, r.shown):
			fmt.Fprint(r.out, text[len(r.shown):]+r.nl())
		default:
			fmt.Fprint(r.out, r.nl()+r.stamp(it.Time)+text+r.nl())
		}
		r.shown = ""
	}
	if it.Kind != serialmon.ItemLine {
		return
	}
	if r.log != nil {
		fmt.Fprintf(r.log, "[%s] %s\n", it.Time.Format(time.RFC3339Nano), escapeText(it.Text))
	}
	if r.dec == nil || r.raw || r.hexView {
		return
	}
	for _, ev := range r.dec.Line(it.Text, it.Time) {
		r.event(ev)
	}
}

func (r *monitorRenderer) event(ev decodedEvent) {
	if r.json {
		r.writeJSON("event", ev.JSON())
	} else {
		for _, l := range ev.Lines() {
			fmt.Fprint(r.out, "    ⇢ "+l+r.nl())
		}
	}
	if r.log != nil {
		for _, l := range ev.Lines() {
			fmt.Fprintf(r.log, "    ⇢ %s\n", l)
		}
	}
}

func spacedHex(b []byte) string {
	var sb strings.Builder
	for i, x := range b {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(hex.EncodeToString([]byte{x}))
	}
	return sb.String()
}

func printable(b []byte) string {
	out := make([]byte, len(b))
	for i, x := range b {
		if x >= 0x20 && x < 0x7F {
			out[i] = x
		} else {
			out[i] = '.'
		}
	}
	return string(out)
}

// escapeText shows text as it is when it is valid UTF-8 and printable;
// other bytes (line noise, the 74880-baud banner read at another rate) as
// \xNN, so garbage is visible and cannot drive the terminal.
func escapeText(s string) string {
	var sb strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&sb, `\x%02x`, s[0])
		case r == '\t':
			sb.WriteRune(r)
		case r < 0x20 || r == 0x7F || (r >= 0x80 && r < 0xA0):
			fmt.Fprintf(&sb, `\x%02x`, r)
		default:
			sb.WriteString(s[:n])
		}
		s = s[n:]
	}
	return sb.String()
}
