package flasher

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/iotbench/iotbench/flasher/target"
)

// Stub is a RAM flasher program in esptool's stub JSON format (§10.2):
// base64 text and data segments with their load addresses and an entry
// point. iotbench ships none; it loads one the user has (--stub-file) or
// one an installed esptool carries.
type Stub struct {
	Text      []byte
	TextStart uint32
	Data      []byte
	DataStart uint32
	Entry     uint32
	BSSStart  uint32
	// Path and Source say where it came from ("--stub-file", "esptool 4.x
	// in /usr/lib/python3/dist-packages", …).
	Path   string
	Source string
}

type stubJSON struct {
	Entry     *uint64 `json:"entry"`
	Text      *string `json:"text"`
	TextStart *uint64 `json:"text_start"`
	Data      *string `json:"data"`
	DataStart *uint64 `json:"data_start"`
	BSSStart  *uint64 `json:"bss_start"`
}

// maxStubSegment bounds a stub segment: the largest RAM a chip could
// execute a stub from is well under this, and it keeps a hostile file from
// allocating without bound.
const maxStubSegment = 1 << 20

// ParseStub reads esptool's stub JSON. Errors say which field is wrong.
func ParseStub(b []byte) (*Stub, error) {
	var j stubJSON
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("not a stub JSON file: %v (expected esptool's stub format with entry, text, text_start, data, data_start)", err)
	}
	if j.Entry == nil || j.Text == nil || j.TextStart == nil {
		return nil, fmt.Errorf("stub JSON lacks %s: expected esptool's stub format (entry, text, text_start, data, data_start)", missing(j))
	}
	s := &Stub{}
	var err error
	for _, f := range []struct {
		name string
		v    *uint64
		dst  *uint32
	}{{"entry", j.Entry, &s.Entry}, {"text_start", j.TextStart, &s.TextStart}, {"data_start", j.DataStart, &s.DataStart}, {"bss_start", j.BSSStart, &s.BSSStart}} {
		if f.v == nil {
			continue
		}
		if *f.v > 0xFFFFFFFF {
			return nil, fmt.Errorf("stub JSON field %s = %d does not fit a 32-bit address", f.name, *f.v)
		}
		*f.dst = uint32(*f.v)
	}
	if s.Text, err = decodeSegment("text", *j.Text); err != nil {
		return nil, err
	}
	if len(s.Text) == 0 {
		return nil, fmt.Errorf("stub JSON has an empty text segment")
	}
	if j.Data != nil {
		if j.DataStart == nil {
			return nil, fmt.Errorf("stub JSON has data but no data_start")
		}
		if s.Data, err = decodeSegment("data", *j.Data); err != nil {
			return nil, err
		}
	}
	if s.Entry < s.TextStart || s.Entry >= s.TextStart+uint32(len(s.Text)) {
		return nil, fmt.Errorf("stub entry 0x%08X lies outside its text segment 0x%08X..0x%08X", s.Entry, s.TextStart, s.TextStart+uint32(len(s.Text)))
	}
	return s, nil
}

func missing(j stubJSON) string {
	var m []string
	if j.Entry == nil {
		m = append(m, "entry")
	}
	if j.Text == nil {
		m = append(m, "text")
	}
	if j.TextStart == nil {
		m = append(m, "text_start")
	}
	return strings.Join(m, ", ")
}

func decodeSegment(name, s string) ([]byte, error) {
	if base64.StdEncoding.DecodedLen(len(s)) > maxStubSegment {
		return nil, fmt.Errorf("stub %s segment is larger than %d bytes: not a flasher stub", name, maxStubSegment)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("stub %s segment is not valid base64: %v", name, err)
	}
	return b, nil
}

// LoadStubFile reads a stub JSON file.
func LoadStubFile(path string) (*Stub, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading --stub-file: %w", err)
	}
	s, err := ParseStub(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.Path, s.Source = path, "--stub-file"
	return s, nil
}

// stubFileNames are the names a chip's stub has had across esptool
// releases: 4.8+ keeps them in numbered folders (1 = legacy stub, which
// esptool 4.x prefers; 2 = esp-flasher-stub, preferred by 5.x), older 4.x
// releases used stub_flasher_<chip>.json.
func stubFileNames(c *target.Chip) []string {
	n := strings.ToLower(strings.ReplaceAll(c.Name, "-", ""))
	legacy := strings.TrimPrefix(n, "esp")
	return []string{
		filepath.Join("targets", "stub_flasher", "1", n+".json"),
		filepath.Join("targets", "stub_flasher", "2", n+".json"),
		filepath.Join("targets", "stub_flasher", "stub_flasher_"+legacy+".json"),
	}
}

// StubSearchDirs lists where installed esptool packages are looked for:
// what `python3 -c "import esptool"` reports, the usual pip locations, the
// Arduino cores' bundled esptool, and PlatformIO's tool-esptoolpy.
func StubSearchDirs(ctx context.Context) []string {
	home, _ := os.UserHomeDir()
	var dirs []string
	for _, py := range []string{"python3", "python"} {
		if p, err := exec.LookPath(py); err == nil {
			c, cancel := context.WithTimeout(ctx, 3*time.Second)
			out, err := exec.CommandContext(c, p, "-c", "import esptool, os; print(os.path.dirname(esptool.__file__))").Output()
			cancel()
			if err == nil {
				dirs = append(dirs, strings.TrimSpace(string(out)))
			}
		}
	}
	globs := []string{
		"/usr/lib/python3*/site-packages/esptool",
		"/usr/lib/python3/dist-packages/esptool",
		"/usr/local/lib/python3*/site-packages/esptool",
		"/usr/local/lib/python3*/dist-packages/esptool",
		"/opt/homebrew/lib/python3*/site-packages/esptool",
	}
	if home != "" {
		globs = append(globs,
			filepath.Join(home, ".local/lib/python3*/site-packages/esptool"),
			filepath.Join(home, ".pyenv/versions/*/lib/python3*/site-packages/esptool"),
			filepath.Join(home, ".espressif/python_env/*/lib/python3*/site-packages/esptool"),
			filepath.Join(home, ".platformio/packages/tool-esptoolpy/esptool"),
			filepath.Join(home, ".arduino15/packages/esp8266/hardware/esp8266/*/tools/esptool/esptool"),
			filepath.Join(home, ".arduino15/packages/esp32/tools/esptool_py/*/esptool"),
			filepath.Join(home, "Library/Arduino15/packages/esp8266/hardware/esp8266/*/tools/esptool/esptool"),
			filepath.Join(home, "Library/Arduino15/packages/esp32/tools/esptool_py/*/esptool"),
		)
	}
	if runtime.GOOS == "windows" {
		if la := os.Getenv("LOCALAPPDATA"); la != "" {
			globs = append(globs, filepath.Join(la, "Arduino15/packages/esp8266/hardware/esp8266/*/tools/esptool/esptool"))
		}
	}
	for _, g := range globs {
		m, _ := filepath.Glob(g)
		sort.Sort(sort.Reverse(sort.StringSlice(m))) // newest version first
		dirs = append(dirs, m...)
	}
	seen := map[string]bool{}
	var out []string
	for _, d := range dirs {
		if d != "" && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// ErrNoStub means no stub was found; the caller falls back to ROM mode.
var ErrNoStub = errors.New("no flasher stub found")

// FindStub looks for chip's stub in dirs (see StubSearchDirs). The error
// lists what was searched so the user can point --stub-file at one.
func FindStub(c *target.Chip, dirs []string) (*Stub, error) {
	var tried []string
	for _, d := range dirs {
		for _, name := range stubFileNames(c) {
			p := filepath.Join(d, name)
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			s, err := ParseStub(b)
			if err != nil {
				tried = append(tried, fmt.Sprintf("%s (invalid: %v)", p, err))
				continue
			}
			s.Path = p
			s.Source = "installed esptool in " + d
			return s, nil
		}
		tried = append(tried, d)
	}
	if len(tried) == 0 {
		return nil, fmt.Errorf("%w: no esptool installation (pip, Arduino core, PlatformIO) on this machine", ErrNoStub)
	}
	return nil, fmt.Errorf("%w for %s in: %s", ErrNoStub, c.Name, strings.Join(tried, "; "))
}

// RunStub uploads the stub to RAM, starts it and waits for its greeting
// (§10): text then data, each as MEM_BEGIN + MEM_DATA packets of 0x1800,
// then MEM_END with the entry point; the stub answers "OHAI".
func (l *Loader) RunStub(s *Stub) error {
	if l.stub {
		l.emit(StubEvent{Running: true, Source: "already running", Reason: "SYNC replies came from a stub"})
		return nil
	}
	for _, seg := range []struct {
		data []byte
		addr uint32
	}{{s.Text, s.TextStart}, {s.Data, s.DataStart}} {
		if len(seg.data) == 0 {
			continue
		}
		if err := l.memLoad(seg.data, seg.addr); err != nil {
			return fmt.Errorf("uploading the stub: %w", err)
		}
	}
	l.ohai = false
	// The ROM may never answer MEM_END because the new code takes over the
	// UART: esptool waits 0.2 s and ignores errors (§10.1).
	r, err := l.command(OpMemEnd, words(0, s.Entry), 0, MemEndROMTimeout)
	if err == nil {
		if _, err := Status(r.Data, 0); err != nil {
			return fmt.Errorf("starting the stub: %w", err)
		}
	} else {
		var pe *PortError
		if errors.As(err, &pe) {
			return err
		}
	}
	deadline := time.Now().Add(l.scaled(DefaultTimeout))
	l.waitOHAI = true
	defer func() { l.waitOHAI = false }()
	for !l.ohai {
		if _, err := l.readFrame(deadline); err != nil {
			if err == errTimeout {
				return fmt.Errorf("failed to start the stub from %s: no OHAI greeting within %v (the stub may not match this chip)", s.Path, DefaultTimeout)
			}
			return err
		}
	}
	l.stub = true
	l.attached = true
	l.stubSrc = s
	l.emit(StubEvent{Running: true, Source: s.Source, Path: s.Path})
	return nil
}

// memTries: a stub upload is small but its 6 KiB packets are long enough
// to be hit on a noisy line, and failing it costs the whole session.
const memTries = 6

func (l *Loader) memLoad(data []byte, addr uint32) error {
	blocks := (len(data) + target.RAMBlockSize - 1) / target.RAMBlockSize
	if err := retry(memTries, func() error {
		_, _, err := l.check("begin RAM download", OpMemBegin, words(uint32(len(data)), uint32(blocks), target.RAMBlockSize, addr), 0, DefaultTimeout, 0)
		return err
	}); err != nil {
		return err
	}
	for seq := 0; seq < blocks; seq++ {
		blk := data[seq*target.RAMBlockSize : min(len(data), (seq+1)*target.RAMBlockSize)]
		pkt := append(dataHeader(len(blk), seq), blk...)
		err := retry(memTries, func() error {
			_, _, err := l.check(fmt.Sprintf("write to RAM at seq %d", seq), OpMemData, pkt, Checksum(blk), DefaultTimeout, 0)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ChangeBaud switches the line rate (CHANGE_BAUDRATE, §6.6): the chip
// answers at the old rate, then both sides switch. The ESP8266 ROM cannot.
// A stub gets (new, old) and scales the divider the ROM auto-detected; a
// ROM gets (new, 0), except that the original ESP32's ROM gets a value
// skewed by its own crystal estimate, which it would otherwise divide by
// (esptool targets/esp32.py change_baud).
func (l *Loader) ChangeBaud(baud int) error {
	if !l.stub && !l.chip.ROMHasFlashOps {
		return fmt.Errorf("%w: the ESP8266 ROM cannot change baud rate", ErrUnsupported)
	}
	arg, old := uint32(baud), uint32(0)
	if l.stub {
		old = uint32(l.port.BaudRate())
	} else if l.chip.ROMBaudSkew {
		romHz, err := l.esp32ROMCrystalHz()
		if err != nil {
			return err
		}
		arg = target.ESP32ROMBaudArg(baud, romHz)
		l.tracef("ESP32 ROM believes its crystal runs at %.0f Hz: asking for %d baud to get %d", romHz, arg, baud)
	}
	if _, _, err := l.check("change baud rate", OpChangeBaudrate, words(arg, old), 0, DefaultTimeout, 0); err != nil {
		return err
	}
	if err := l.port.SetBaudRate(baud); err != nil {
		return &PortError{Err: fmt.Errorf("setting %d baud: %w", baud, err)}
	}
	l.sleep(50 * time.Millisecond)
	if err := l.flushInput(); err != nil {
		return err
	}
	l.emit(BaudEvent{Baud: baud})
	return nil
}

// esp32ROMCrystalHz reads the ROM's crystal estimate the way esptool
// does: RTCCALICFG1's calibration value and the CK8M efuse.
func (l *Loader) esp32ROMCrystalHz() (float64, error) {
	cali, err := l.ReadReg(target.ESP32RTCCaliReg)
	if err != nil {
		return 0, err
	}
	ck8m, err := l.ReadReg(target.ESP32EfuseRData4)
	if err != nil {
		return 0, err
	}
	hz := target.ESP32ROMCrystalHz(cali, ck8m)
	if hz <= 0 {
		return 0, fmt.Errorf("the ESP32 ROM reports no crystal estimate (RTCCALICFG1 0x%08X, efuse CK8M 0x%02X): change baud with a flasher stub instead", cali, ck8m&0xFF)
	}
	return hz, nil
}
