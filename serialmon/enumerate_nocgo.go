//go:build darwin && !cgo

package serialmon

import "go.bug.st/serial"

// enumeratePorts lists paths only: go.bug.st/serial reads USB details on
// macOS through IOKit, which needs cgo. Without USB IDs no port looks like
// an ESP, so ChoosePort asks for --port.
func enumeratePorts() ([]rawPort, error) {
	names, err := serial.GetPortsList()
	if err != nil {
		return nil, err
	}
	raw := make([]rawPort, len(names))
	for i, n := range names {
		raw[i] = rawPort{Name: n}
	}
	return raw, nil
}
