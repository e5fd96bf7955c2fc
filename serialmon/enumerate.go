//go:build !darwin || cgo

package serialmon

import (
	"slices"

	"go.bug.st/serial"
	"go.bug.st/serial/enumerator"
)

func enumeratePorts() ([]rawPort, error) {
	details, err := enumerator.GetDetailedPortsList()
	if err != nil {
		return nil, err
	}
	var raw []rawPort
	for _, d := range details {
		if d == nil || d.Name == "" {
			continue
		}
		raw = append(raw, rawPort{Name: d.Name, VID: d.VID, PID: d.PID, IsUSB: d.IsUSB,
			SerialNumber: d.SerialNumber, Manufacturer: d.Manufacturer, Product: d.Product})
	}
	if slices.ContainsFunc(details, func(d *enumerator.PortDetails) bool { return d != nil && d.Name == "" }) {
		// go.bug.st/serial leaves Name empty for a port without a sysfs
		// device entry; its plain list still has the path.
		names, _ := serial.GetPortsList()
		for _, n := range names {
			raw = append(raw, rawPort{Name: n})
		}
	}
	return raw, nil
}
