package provision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/iotbench/iotbench/doctor"
	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/fsimage"
	"github.com/iotbench/iotbench/flasher/fstree"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/serialmon"
	"github.com/iotbench/iotbench/serialmon/decode"
)

// Target is one board to provision.
type Target struct {
	// Name labels the board in events ("" = the port).
	Name string
	// Port is a device path or an rfc2217:// URL.
	Port string
	// Open opens the port instead of serialmon.Open (an in-process
	// virtual board). It is called once; the pipeline owns what it returns.
	Open func(ctx context.Context, baud int) (flasher.Port, error)
}

// Options configure a run.
type Options struct {
	Cloud Cloud
	// Thing overrides the default thing name (from the MAC, or the ledger).
	// Only meaningful for one board.
	Thing   string
	KeyType string
	WiFi    firmware.WiFi
	// Sensors default to one fake sensor (bench tests need no hardware).
	Sensors          []firmware.Sensor
	PublishIntervalS int
	// OTAPasswordMD5 enables ArduinoOTA with this password hash.
	OTAPasswordMD5 string

	// FS kind (default LittleFS, the ESP8266 core's default) and Layout
	// (default: the board's flash size's Arduino default).
	FS     layout.FSKind
	Layout string
	// App, when set, is firmware to write as well: on the ESP8266 an
	// application image, written at 0x0; on ESP32-family chips a merged
	// image (bootloader, partition table, app, from merge-bin), written at
	// 0x0, or an app image, written at the table's boot app partition.
	App     []byte
	AppName string
	// Partitions (ESP32 family) is the partition table to use and write at
	// 0x8000: a CSV or binary file, or an arduino-esp32 scheme name
	// ("default"), as write-flash --partitions takes it. Empty: the chip's
	// own table, or the default scheme when it has none.
	Partitions string
	// FSPartition (ESP32 family) is the label of the filesystem partition
	// when the table has several.
	FSPartition string
	// Extra files for the filesystem image, beside the identity.
	Extra []fstree.File

	// Serial side.
	Baud            int // transfer rate (default 460800; the ESP8266 ROM stays at 115200)
	AppBaud         int // the firmware's Serial.begin rate (default the reference firmware's: firmware.SerialBaud on the ESP8266, the ROM's 115200 on ESP32-family chips)
	NoStub          bool
	StubFile        string
	StubDirs        []string
	Before          flasher.BeforeMode
	ConnectAttempts int
	TimeoutScale    float64 // for boards with a sped-up clock

	// Timeouts: every step has one, so nothing hangs.
	StepTimeout time.Duration // default 2 min (identity, flash: per step)
	BootTimeout time.Duration // from reset to the first publish; default 90 s
	// SettleAfterError ends the wait when the board reported a failure and
	// then printed nothing for this long (a firmware that halts on a failed
	// mount, say); default 15 s.
	SettleAfterError time.Duration

	Ledger *Ledger
	Decode decode.Options
	Now    func() time.Time
	// Dial reaches the endpoint for the doctor's TLS probe (tests map the
	// endpoint's name to loopback); nil = net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	// Tamper edits the board's files before they go into the image: the
	// demo's faults (a wrong ca.der, a corrupt key) — never for real use.
	Tamper func(files map[string][]byte)

	// FSOffset writes the filesystem somewhere else than the layout says:
	// what flashing with the wrong layout does. For the demo's fs-offset
	// fault, never for real use.
	FSOffset *uint32
}

func (o *Options) defaults() {
	if o.FS == "" {
		o.FS = layout.LittleFS
	}
	if o.Baud == 0 {
		o.Baud = 460800
	}
	if o.StepTimeout == 0 {
		o.StepTimeout = 2 * time.Minute
	}
	if o.BootTimeout == 0 {
		o.BootTimeout = 90 * time.Second
	}
	if o.SettleAfterError == 0 {
		o.SettleAfterError = 15 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.KeyType == "" {
		o.KeyType = "rsa"
	}
	if o.PublishIntervalS == 0 {
		o.PublishIntervalS = 10
	}
	if len(o.Sensors) == 0 {
		o.Sensors = []firmware.Sensor{{Type: firmware.SensorFake, Name: "fake", Pin: -1, IntervalS: o.PublishIntervalS}}
	}
}

// StepError is a step that failed, with the doctor's finding.
type StepError struct {
	Step    StepID
	Err     error
	Finding *doctor.Finding
}

func (e *StepError) Error() string {
	if e.Finding != nil {
		return fmt.Sprintf("%s: %s — fix: %s", e.Step, e.Finding.Summary, e.Finding.Fix)
	}
	return fmt.Sprintf("%s: %v", e.Step, e.Err)
}
func (e *StepError) Unwrap() error { return e.Err }

// run is one board's pipeline state.
type run struct {
	o    Options
	t    Target
	emit func(Event)
	res  *Result

	port   flasher.Port
	loader *flasher.Loader
	info   *flasher.ChipInfo
	flash  int
	mac    string
	rec    *Record
	fresh  bool // no ledger record before this run

	id      *Identity
	cfg     *firmware.Config
	files   map[string][]byte
	geom    fsimage.Geometry
	lay     string
	fsImage []byte
	fsAt    uint32
	appAt   uint32 // where Options.App goes
	table   []byte // a partition table to write at 0x8000 (ESP32 family)
	// pt is the partition table an ESP32-family board boots with after
	// this run (nil on an ESP8266).
	pt *layout.PartitionTable
	// tableFrom says where an ESP32 board's partition table came from.
	tableFrom string
	changed   bool // something was created or written
	lines     []doctor.Line
	resetAt   time.Time
	// onFlasher receives the loader's events while a step wants them.
	onFlasher func(flasher.Event)
}

// Run provisions one board and reports the outcome; it never panics on a
// board's failure: the Result says what happened.
func Run(ctx context.Context, t Target, o Options, emit func(Event)) *Result {
	return newRun(t, o, emit).complete(ctx, (*run).run)
}

func newRun(t Target, o Options, emit func(Event)) *run {
	o.defaults()
	if emit == nil {
		emit = func(Event) {}
	}
	if t.Name == "" {
		t.Name = t.Port
	}
	return &run{o: o, t: t, emit: emit, res: &Result{Board: t.Name, Port: t.Port}}
}

// complete runs body, times it, records its error and releases the port.
func (r *run) complete(ctx context.Context, body func(*run, context.Context) error) *Result {
	start := time.Now()
	err := body(r, ctx)
	r.res.Elapsed = time.Since(start)
	if err != nil {
		r.res.Error = err.Error()
	}
	if r.port != nil {
		r.port.Close()
	}
	return r.res
}

func (r *run) event(step StepID, kind Kind, msg string) {
	r.emit(Event{Board: r.t.Name, Step: step, Kind: kind, Message: msg, At: time.Now()})
}

// step runs fn with a timeout and records how it ended. fn returns
// skipped=true when the step found everything already in place.
func (r *run) step(ctx context.Context, id StepID, timeout time.Duration, fn func(ctx context.Context) (msg string, skipped bool, err error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.event(id, KindStart, "")
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	msg, skipped, err := fn(sctx)
	if err == nil && sctx.Err() != nil && ctx.Err() == nil {
		err = fmt.Errorf("timed out after %v", timeout)
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("%s: no answer within %v: %w", id, timeout, err)
	}
	res := StepResult{Step: id, Message: msg, Duration: time.Since(start)}
	switch {
	case err != nil:
		res.Status = KindFailed
		var se *StepError
		if !errors.As(err, &se) {
			se = &StepError{Step: id, Err: err}
			err = se
		}
		res.Message = err.Error()
		r.res.Steps = append(r.res.Steps, res)
		r.emit(Event{Board: r.t.Name, Step: id, Kind: KindFailed, Message: err.Error(), Finding: se.Finding, At: time.Now()})
		return err
	case skipped:
		res.Status = KindSkipped
	default:
		res.Status = KindDone
	}
	r.res.Steps = append(r.res.Steps, res)
	r.event(id, res.Status, msg)
	return nil
}

func (r *run) run(ctx context.Context) error {
	o := r.o
	if o.Cloud == nil {
		return errors.New("no cloud: choose the local cloud or AWS")
	}
	r.res.Cloud = o.Cloud.Kind()
	if err := r.step(ctx, StepPort, 30*time.Second, r.openPort); err != nil {
		return err
	}
	if err := r.step(ctx, StepChip, o.StepTimeout, r.connectChip); err != nil {
		return err
	}
	if err := r.step(ctx, StepIdentity, o.StepTimeout, r.identity); err != nil {
		return err
	}
	if err := r.step(ctx, StepFiles, 10*time.Second, r.makeFiles); err != nil {
		return err
	}
	if err := r.step(ctx, StepImage, 30*time.Second, r.buildImage); err != nil {
		return err
	}
	if err := r.step(ctx, StepFlash, o.StepTimeout, r.flashRegions); err != nil {
		return err
	}
	// Subscribe before the board can publish, so the first message is seen.
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	topic := r.cfg.Topics.Telemetry
	r.res.Topic = topic
	msgs, err := o.Cloud.Watch(watchCtx, topic)
	if err != nil {
		f := &doctor.Finding{Code: "cloud.unreachable", StepName: "cloud", Level: "error",
			Summary: "cannot subscribe to " + topic + ": " + err.Error(),
			Fix:     "check that the cloud is reachable (local cloud running, or AWS credentials and region) and try again"}
		se := &StepError{Step: StepPublish, Err: err, Finding: f}
		r.emit(Event{Board: r.t.Name, Step: StepPublish, Kind: KindFailed, Message: se.Error(), Finding: f, At: time.Now()})
		return se
	}
	return r.bootAndVerify(ctx, msgs)
}

func (r *run) openPort(ctx context.Context) (string, bool, error) {
	baud := flasher.InitialBaud(r.o.Baud)
	var p flasher.Port
	var err error
	if r.t.Open != nil {
		p, err = r.t.Open(ctx, baud)
	} else {
		p, err = serialmon.Open(ctx, r.t.Port, baud)
	}
	if err != nil {
		return "", false, err
	}
	r.port = p
	return "opened " + r.t.Port, false, nil
}

func (r *run) connectChip(ctx context.Context) (string, bool, error) {
	o := r.o
	l, info, err := flasher.Open(ctx, r.port, flasher.SessionOptions{
		ConnectOptions: flasher.ConnectOptions{PortName: r.t.Port, Before: o.Before, Attempts: o.ConnectAttempts, TimeoutScale: o.TimeoutScale,
			Events: func(e flasher.Event) {
				if r.onFlasher != nil {
					r.onFlasher(e)
				} else if w, ok := e.(flasher.WarningEvent); ok {
					r.event(StepChip, KindProgress, w.Message)
				}
			}},
		Baud: o.Baud, NoStub: o.NoStub, StubFile: o.StubFile, StubDirs: o.StubDirs,
	})
	if err != nil {
		return "", false, err
	}
	r.loader, r.info = l, info
	if r.flash, err = l.FlashSize(); err != nil {
		return "", false, err
	}
	m := info.MAC
	r.mac = fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
	r.res.Chip, r.res.MAC = info.Chip.Name, r.mac
	if o.Ledger != nil {
		if r.rec, err = o.Ledger.Get(r.mac); err != nil {
			return "", false, err
		}
	}
	r.fresh = r.rec == nil
	mode := "ROM loader"
	if l.IsStub() {
		mode = "stub"
	}
	return fmt.Sprintf("%s, MAC %s, %d MB flash, %s at %d baud", info.Chip.Name, r.mac, r.flash>>20, mode, r.port.BaudRate()), false, nil
}

// thingName: the option, the ledger's, or one from the chip and MAC.
func (r *run) thingName() string {
	if r.o.Thing != "" {
		return r.o.Thing
	}
	if r.rec != nil && r.rec.Thing != "" {
		return r.rec.Thing
	}
	return DefaultThingName(r.info.Chip.Name, r.info.MAC)
}

// DefaultThingName is esp8266-a1b2c3: the chip family and the MAC's last
// three bytes, as the boards' own default host names do.
func DefaultThingName(chip string, mac [6]byte) string {
	c := strings.ToLower(strings.ReplaceAll(chip, "-", ""))
	if c == "" {
		c = "esp"
	}
	return fmt.Sprintf("%s-%02x%02x%02x", c, mac[3], mac[4], mac[5])
}

func (r *run) identity(ctx context.Context) (string, bool, error) {
	thing := r.thingName()
	id, err := r.o.Cloud.EnsureIdentity(ctx, IdentityRequest{Thing: thing, MAC: r.mac, Chip: r.info.Chip.Name, KeyType: r.o.KeyType},
		func(s string) { r.event(StepIdentity, KindProgress, s) })
	if err != nil {
		return "", false, err
	}
	r.id = id
	r.res.Thing = id.Thing
	if !id.Reused {
		r.changed = true
	}
	return fmt.Sprintf("thing %s, certificate %s, endpoint %s:%d", id.Thing, short(id.CertificateID), id.Endpoint, id.Port), id.Reused, nil
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return s
}

func (r *run) makeFiles(ctx context.Context) (string, bool, error) {
	o := r.o
	cfg := &firmware.Config{
		Schema:           firmware.SchemaVersion,
		WiFi:             o.WiFi,
		Endpoint:         firmware.Endpoint{Host: r.id.Endpoint, Port: r.id.Port},
		Thing:            r.id.Thing,
		Topics:           firmware.Topics{Telemetry: firmware.TelemetryTopic(r.id.Thing), Command: firmware.CommandTopic(r.id.Thing)},
		PublishIntervalS: o.PublishIntervalS,
		Sensors:          o.Sensors,
		TLS:              firmware.TLS{RxBuffer: firmware.DefaultRxBuffer},
	}
	if o.OTAPasswordMD5 != "" {
		cfg.OTA = &firmware.OTA{Hostname: firmware.DefaultOTAHostname(r.id.Thing), Port: firmware.DefaultOTAPort, PasswordMD5: o.OTAPasswordMD5}
	}
	if err := cfg.Validate(); err != nil {
		return "", false, fmt.Errorf("the device configuration is invalid: %w", err)
	}
	r.cfg = cfg
	r.files = map[string][]byte{
		firmware.ConfigFile: cfg.Marshal(),
		firmware.CertFile:   r.id.CertDER,
		firmware.KeyFile:    r.id.KeyDER,
		firmware.CAFile:     r.id.CADER,
	}
	if o.Tamper != nil {
		o.Tamper(r.files)
	}
	return fmt.Sprintf("%s (thing %s, topic %s), %s, %s, %s", firmware.ConfigFile, cfg.Thing, cfg.Topics.Telemetry, firmware.CertFile, firmware.KeyFile, firmware.CAFile), false, nil
}

// chooseLayout picks the filesystem region: the option, the ledger's, or
// the Arduino default for the board's flash size.
func (r *run) chooseLayout(ctx context.Context) (fsimage.Geometry, string, error) {
	if !r.info.Chip.IsESP8266() {
		if r.o.Layout != "" {
			return fsimage.Geometry{}, "", fmt.Errorf("--layout %s is an ESP8266 flash layout; the %s has a partition table: use --partitions (a CSV or a scheme such as default) and --fs-partition", r.o.Layout, r.info.Chip.Name)
		}
		g, err := r.chooseESP32(ctx)
		return g, g.Name, err
	}
	if r.o.Partitions != "" || r.o.FSPartition != "" {
		return fsimage.Geometry{}, "", fmt.Errorf("--partitions and --fs-partition are for ESP32-family chips; the ESP8266 has flash layouts: use --layout")
	}
	name := r.o.Layout
	if name == "" && r.rec != nil {
		name = r.rec.Layout
	}
	if name == "" {
		ls := layout.ESP8266ForFlash(r.flash)
		for _, l := range ls {
			if l.HasFS() && (name == "" || defaultLayoutFor(r.flash) == l.Name) {
				name = l.Name
			}
		}
		if name == "" {
			return fsimage.Geometry{}, "", fmt.Errorf("no ESP8266 layout with a filesystem for %d bytes of flash: pass --layout", r.flash)
		}
	}
	l, err := layout.ESP8266(name)
	if err != nil {
		return fsimage.Geometry{}, "", err
	}
	if l.FlashSize > r.flash {
		return fsimage.Geometry{}, "", fmt.Errorf("layout %s is for %d MB of flash but the board has %d MB: pick a layout for its size (iotbench layouts)", name, l.FlashSize>>20, r.flash>>20)
	}
	g, err := fsimage.ForESP8266(l)
	return g, name, err
}

// defaultLayoutFor is the layout the Arduino IDE preselects for generic
// boards of each flash size (boards.txt: 4M2M for 4 MB, 1M64 for 1 MB…).
func defaultLayoutFor(flash int) string {
	switch flash >> 20 {
	case 1:
		return "1M64"
	case 2:
		return "2M64"
	case 4:
		return "4M2M"
	case 8:
		return "8M6M"
	case 16:
		return "16M14M"
	}
	return ""
}

func (r *run) buildImage(ctx context.Context) (string, bool, error) {
	g, name, err := r.chooseLayout(ctx)
	if err != nil {
		return "", false, err
	}
	r.geom, r.lay = g, name
	stamp := r.o.Now().UTC().Truncate(time.Second)
	if r.rec != nil && !r.rec.ImageTime.IsZero() {
		stamp = r.rec.ImageTime
	}
	var files []fstree.File
	for _, n := range []string{firmware.ConfigFile, firmware.CertFile, firmware.KeyFile, firmware.CAFile} {
		files = append(files, fstree.File{Path: "/" + n, Data: r.files[n], ModTime: stamp})
	}
	files = append(files, r.o.Extra...)
	tree, err := fstree.FromFiles(files)
	if err != nil {
		return "", false, err
	}
	img, err := fsimage.Build(r.o.FS, tree, g, fsimage.BuildOptions{FixedTime: &stamp})
	if err != nil {
		return "", false, err
	}
	r.fsImage = img
	r.fsAt = g.Offset
	if r.o.FSOffset != nil {
		r.fsAt = *r.o.FSOffset
	}
	if r.rec == nil {
		r.rec = &Record{MAC: r.mac}
	}
	r.rec.ImageTime = stamp
	where := g.Name
	if r.tableFrom != "" {
		where += " (table from " + r.tableFrom + ")"
	}
	return fmt.Sprintf("%s image of %d KiB for %s (at 0x%x)", r.o.FS, len(img)>>10, where, g.Offset), false, nil
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
