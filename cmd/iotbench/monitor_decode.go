package main

import (
	"fmt"
	"time"

	"github.com/iotbench/iotbench/serialmon/decode"
)

// lineDecoder explains lines; the monitor prints what it finds under them.
type lineDecoder interface {
	Line(line string, at time.Time) []decodedEvent
}

type decodedEvent interface {
	Lines() []string
	JSON() any
}

type monitorDecoder struct{ d *decode.Decoder }

// newLineDecoder builds the ESP decoders, with an ELF for crash addresses.
func newLineDecoder(elf, chip string) (lineDecoder, error) {
	if chip == "" || chip == "auto" {
		chip = "ESP8266"
	}
	o := decode.Options{Chip: chip}
	if elf != "" {
		sym, err := decode.LoadELF(elf)
		if err != nil {
			return nil, fmt.Errorf("--elf %s: %v", elf, err)
		}
		o.Symbols = sym
	}
	return &monitorDecoder{d: decode.NewDecoder(o)}, nil
}

func (m *monitorDecoder) Line(line string, at time.Time) []decodedEvent {
	var out []decodedEvent
	for _, ev := range m.d.Line(line, at) {
		out = append(out, shownEvent{ev})
	}
	return out
}

// shownEvent renders a decode.Event for the monitor.
type shownEvent struct{ decode.Event }

func (e shownEvent) Lines() []string {
	head := fmt.Sprintf("[%s] %s", e.Kind, e.Summary)
	if e.Severity >= decode.Warning {
		head = fmt.Sprintf("%s: %s", e.Severity, head)
	}
	lines := []string{head}
	if e.Fix != "" {
		lines = append(lines, "  fix: "+e.Fix)
	}
	for _, f := range e.Frames {
		lines = append(lines, "  "+f.String())
	}
	return lines
}

func (e shownEvent) JSON() any {
	return map[string]any{
		"kind": e.Kind, "severity": e.Severity.String(), "summary": e.Summary, "fix": e.Fix,
		"evidence": e.Evidence, "fields": e.Fields, "frames": e.Frames,
	}
}
