package flasher

import (
	"context"
	"errors"
	"fmt"
)

// SessionOptions configure Open: connecting plus esptool's preparation.
type SessionOptions struct {
	ConnectOptions
	// Baud to switch to after connecting (needs a stub on the ESP8266).
	// Connecting itself happens at min(115200, Baud), as esptool does.
	Baud int
	// NoStub stays with the ROM loader.
	NoStub bool
	// StubFile loads the stub from this esptool stub JSON; empty = look
	// for an installed esptool (StubDirs, or StubSearchDirs when nil).
	StubFile string
	StubDirs []string
	// SkipFlash skips the flash prelude (attach, JEDEC ID, XMC check,
	// flash reset) for operations that do not touch flash.
	SkipFlash bool
}

// InitialBaud is the rate to open the port at for a requested baud:
// esptool never syncs faster than 115200 (§1).
func InitialBaud(requested int) int {
	if requested <= 0 || requested > ROMBaud {
		return ROMBaud
	}
	return requested
}

// Open connects, identifies the chip, starts a stub (unless NoStub, or
// none is found — then it says why ROM mode is slower), changes baud and
// runs the flash prelude: what esptool does before any command (§6.4).
func Open(ctx context.Context, p Port, o SessionOptions) (*Loader, *ChipInfo, error) {
	l, err := Connect(ctx, p, o.ConnectOptions)
	if err != nil {
		return nil, nil, err
	}
	info, err := l.ReadChipInfo()
	if err != nil {
		return nil, nil, err
	}
	l.emit(info.Event())
	if !o.NoStub && !l.stub {
		stub, err := l.chooseStub(ctx, o)
		if err != nil {
			return nil, nil, err
		}
		if stub != nil {
			if err := l.RunStub(stub); err != nil {
				return nil, nil, err
			}
		}
	}
	if o.Baud > p.BaudRate() {
		if err := l.ChangeBaud(o.Baud); err != nil {
			if !errors.Is(err, ErrUnsupported) {
				return nil, nil, err
			}
			l.warn("the ESP8266 ROM cannot change baud rate: staying at %d (a stub can)", p.BaudRate())
		}
	}
	if !o.SkipFlash {
		if err := l.FlashPrelude(); err != nil {
			return nil, nil, err
		}
	}
	return l, info, nil
}

func (l *Loader) chooseStub(ctx context.Context, o SessionOptions) (*Stub, error) {
	if o.StubFile != "" {
		s, err := LoadStubFile(o.StubFile)
		if err != nil {
			return nil, &InputError{Msg: err.Error()}
		}
		return s, nil
	}
	dirs := o.StubDirs
	if dirs == nil {
		dirs = StubSearchDirs(ctx)
	}
	s, err := FindStub(l.chip, dirs)
	if err == nil {
		return s, nil
	}
	reason := fmt.Sprintf("%v. Flashing in ROM mode instead, which is slower: 1 KiB packets at 115200 baud, no compression", err)
	if l.chip.IsESP8266() {
		reason += ", no baud change and no MD5 verification on the ESP8266"
	}
	reason += " — pass --stub-file with an esptool stub JSON (e.g. esptool/targets/stub_flasher/1/esp8266.json) to go faster"
	l.emit(StubEvent{Running: false, Reason: reason})
	return nil, nil
}
