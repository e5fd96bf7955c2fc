// Package provision owns the pipeline that takes a blank board to a
// verified publish (architecture.md, "The flow"): port → chip → identity →
// files → image → flash → reset → boot log → first publish. Each step
// emits typed events; the CLI renders them as progress or JSON lines, the
// TUI as widgets. One Run owns its board's port from connecting through
// monitoring, so nothing else can grab it between flashing and watching
// the boot.
//
// The cloud (AWS IoT or the local cloud) is reached through the Cloud
// interface defined here; adapters for both live in this package. The
// per-board ledger, keyed by MAC, remembers the thing, its certificate and
// what was flashed, so a re-run skips what is already true. When a board
// does not verify, the doctor's findings say why.
package provision
