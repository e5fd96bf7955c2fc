package virtualboard

// Accessors firmware models need beyond printing and the flash (added for
// virtualboard/arduinoota, the ArduinoOTA + Updater + eboot model).

// BootMode is the strap value A latched at the last hardware reset, as
// the running firmware reads it from GPI bits 16–19: 3 after a normal
// reset, but still 1 when esptool started the sketch straight from the
// loader. The ESP8266 Updater refuses to begin in that state (error 11,
// device-side.md §5.6).
func (e *AppEnv) BootMode() int { return e.b.BootMode() }

// Clock is the board's clock, for firmware models that wait on host
// sockets and must turn board time into real-time deadlines.
func (e *AppEnv) Clock() *Clock { return e.b.clk }
