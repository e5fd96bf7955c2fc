// Package serialmon owns serial ports — enumerating USB serial ports and
// recognising ESP bridges, opening local paths and rfc2217:// URLs behind
// one interface — and (later) the monitor session and its decoders.
//
// Everything here returns errors that name the fix rather than printing:
// the CLI and the TUI decide how to show them.
package serialmon
