// Package firmware owns what the reference firmware and the tool agree on:
// the `#IB` status-line grammar (status.go), the device topic names
// (topics.go), and the config.json schema and telemetry payload.
//
// Each format is defined once, here, and shared with the reference sketch's
// own tests through the vectors under testdata/ (see testdata/status/README.md
// for the status-line vectors).
package firmware
