package flasher

// ChangeBaudUncompensated sends CHANGE_BAUDRATE with the plain rate, as a
// flasher unaware of the ESP32 ROM's clock drift would (§6.6), and
// switches the host side: tests use it to show the virtual ESP32's drift
// garbles such a line.
func ChangeBaudUncompensated(l *Loader, baud int) error {
	if _, _, err := l.check("change baud rate", OpChangeBaudrate, words(uint32(baud), 0), 0, DefaultTimeout, 0); err != nil {
		return err
	}
	if err := l.port.SetBaudRate(baud); err != nil {
		return err
	}
	return l.flushInput()
}

// SetProbeChunks swaps the chip-comparison narrowing steps for a
// benchmark of strategies; it returns a function restoring them.
func SetProbeChunks(c []int) (restore func()) {
	old := probeChunks
	probeChunks = c
	return func() { probeChunks = old }
}
