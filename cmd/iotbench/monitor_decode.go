package main

import "time"

// lineDecoder explains lines; decodedEvent is what it finds.
type lineDecoder interface {
	Line(line string, at time.Time) []decodedEvent
}

type decodedEvent interface {
	Lines() []string
	JSON() any
}

func newLineDecoder(elf string) (lineDecoder, error) { return nil, nil }
