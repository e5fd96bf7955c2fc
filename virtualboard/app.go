package virtualboard

import (
	"context"
	"fmt"
	"time"

	"github.com/iotbench/iotbench/flasher/layout"
)

// App is application firmware the ROM hands over to after it loaded a
// valid image from flash: the firmware twin, or a test program. The board
// does not execute the image's code; an App stands for what that code does
// (device-side.md §1.1: ROM and eboot print at 74880 baud, the sketch at
// its own rate after Serial.begin).
type App func(ctx context.Context, env *AppEnv)

// AppEnv is what a running application can do on the board.
type AppEnv struct {
	b *Board
	// Entry is the image entry point the ROM jumped to.
	Entry uint32
	// ResetCause is the ROM's rst cause for this boot (1 power-on, 2
	// external or software reset, 4 hardware watchdog …, device-side.md §1.3).
	ResetCause int
	// running is the app partition the ESP32 bootloader loaded (nil on
	// the ESP8266).
	running *layout.Partition
}

// Begin sets the UART rate, as Serial.begin(baud) does.
func (e *AppEnv) Begin(baud int) {
	e.b.waitTx(context.Background())
	e.b.setBaud(baud)
}

// Print transmits text at the current rate.
func (e *AppEnv) Print(s string) { e.b.print(s) }

// Printf formats and transmits.
func (e *AppEnv) Printf(format string, args ...any) { e.b.print(fmt.Sprintf(format, args...)) }

// Write transmits raw bytes.
func (e *AppEnv) Write(p []byte) { e.b.transmit(p) }

// Sleep waits d of board time (delay()).
func (e *AppEnv) Sleep(ctx context.Context, d time.Duration) error { return e.b.clk.Sleep(ctx, d) }

// Flush waits until everything printed has left the UART.
func (e *AppEnv) Flush(ctx context.Context) error { return e.b.waitTx(ctx) }

// Now is the board's clock (millis()).
func (e *AppEnv) Now() time.Duration { return e.b.clk.Now() }

// Flash is the board's flash (what the firmware reads its filesystem from).
func (e *AppEnv) Flash() *Flash { return e.b.flash }

// MAC is the board's station MAC.
func (e *AppEnv) MAC() [6]byte { return e.b.cfg.MAC }

// ROMResetCode is the rst code an ESP32-family ROM printed for this boot
// (0x1 POWERON_RESET, 0xc SW_CPU_RESET, …), which ESP-IDF's
// esp_reset_reason() starts from; meaningless on the ESP8266.
func (e *AppEnv) ROMResetCode() int {
	code, _ := e.b.romCause32(e.ResetCause)
	return code
}

// Chip is the board's chip ("ESP8266", "ESP32-C3", …), as the firmware
// knows what it was built for.
func (e *AppEnv) Chip() string { return e.b.chip.Name }

// Restart is ESP.restart(): a software reset, after which the ROM prints
// its banner with rst cause 2 and the boot mode latched at the last
// hardware reset (device-side.md §1.4).
func (e *AppEnv) Restart() { e.b.softReset() }

// Dropped reports bytes the board could not deliver because the host end
// did not read them in time (a USB bridge's FIFO overflowing).
func (b *Board) Dropped() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}

func (b *Board) addDropped(n int) {
	b.mu.Lock()
	b.dropped += int64(n)
	b.mu.Unlock()
}
