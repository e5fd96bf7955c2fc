//go:build !linux

package serialmon

// isPseudoTerminal is only known on Linux. Elsewhere a pseudo-terminal is
// recognised when opening it with modem-line settings fails, and is then
// opened a second time.
func isPseudoTerminal(string) bool { return false }

// closeOnExec is only implemented on Linux (see os_linux.go): elsewhere
// a program this process starts inherits an open port.
func closeOnExec[T any](open func() (T, error)) (T, error) { return open() }

// holders cannot be found portably here.
func holders(path string) []string { return nil }
