// Package firmware owns what the reference firmware and the tool agree on:
// the `#IB` status-line grammar (status.go), the device topic names
// (topics.go), the identity file names (files.go), the config.json schema
// (config.go), the telemetry payload (payload.go), the human lines the
// firmware prints (lines.go) and its reconnect backoff (backoff.go).
//
// Each format is defined once, here, and shared with the reference sketch
// under arduino/iotbench, whose host tests (run by this package's tests
// with g++) read the same vectors under testdata/ and must agree with the
// Go side on every one.
package firmware
