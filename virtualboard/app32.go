package virtualboard

import (
	"context"
	"errors"
	"fmt"

	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/otadata"
)

// What a running app on an ESP32-family board does with otadata: ESP-IDF's
// esp_ota_ops.c calls (components/app_update) and the step of
// arduino-esp32's initArduino() that uses them. The entry formats and
// rules are flasher/otadata's; this file does the reads and writes
// through the flash model.

// errNotESP32 is returned by the otadata calls on the ESP8266, which has
// neither otadata nor a second-stage bootloader that reads it.
var errNotESP32 = errors.New("no otadata on the ESP8266: app rollback is an ESP32-family feature")

// RunningPartition is esp_ota_get_running_partition(): the app partition
// the bootloader loaded this boot (false on the ESP8266). Unlike BootApp
// it does not change when otadata does.
func (e *AppEnv) RunningPartition() (layout.Partition, bool) {
	if e.running == nil {
		return layout.Partition{}, false
	}
	return *e.running, true
}

// otadataNow reads the partition table and the otadata partition.
func (e *AppEnv) otadataNow() (*layout.PartitionTable, otadata.Slots, []byte, error) {
	if e.running == nil {
		return nil, otadata.Slots{}, nil, errNotESP32
	}
	fl := e.b.flash
	pt, err := layout.ParseBinary(fl.Read(layout.PartitionTableOffset, layout.PartitionTableMaxLen))
	if err != nil {
		return nil, otadata.Slots{}, nil, fmt.Errorf("partition table at 0x%x: %w", layout.PartitionTableOffset, err)
	}
	s := otadata.SlotsOf(pt)
	return pt, s, s.Read(fl.Read), nil
}

// OTAState is esp_ota_get_state_partition(esp_ota_get_running_partition())
// (otadata.StateOf): otadata.ErrNotFound when no entry selects the running
// partition, an error for a factory app (not an OTA partition).
func (e *AppEnv) OTAState() (uint32, error) {
	pt, _, data, err := e.otadataNow()
	if err != nil {
		return 0, err
	}
	return otadata.StateOf(pt, data, *e.running)
}

// MarkAppValidCancelRollback is esp_ota_mark_app_valid_cancel_rollback():
// the active otadata entry becomes VALID (otadata.MarkValid), so the
// bootloader will not roll the app back.
func (e *AppEnv) MarkAppValidCancelRollback(ctx context.Context) error {
	pt, s, data, err := e.otadataNow()
	if err != nil {
		return err
	}
	w, ok, err := otadata.MarkValid(pt, data)
	if err != nil || !ok {
		return err
	}
	return e.writeOTAData(ctx, s, w, "esp_ota_mark_app_valid_cancel_rollback")
}

// MarkAppInvalidRollbackAndReboot is
// esp_ota_mark_app_invalid_rollback_and_reboot(): when another app can
// boot, the active entry becomes INVALID and the chip restarts (the
// bootloader then boots the previous app); otherwise
// otadata.ErrRollbackFailed and nothing changes.
func (e *AppEnv) MarkAppInvalidRollbackAndReboot(ctx context.Context) error {
	pt, s, data, err := e.otadataNow()
	if err != nil {
		return err
	}
	w, err := otadata.MarkInvalid(pt, data, func(p layout.Partition) bool {
		return ValidateApp(e.b.flash, e.b.chip.Name, p) == nil
	})
	if err != nil {
		return err
	}
	if err := e.writeOTAData(ctx, s, w, "esp_ota_mark_app_invalid_rollback_and_reboot"); err != nil {
		return err
	}
	e.Restart()
	<-ctx.Done()
	return ctx.Err()
}

func (e *AppEnv) writeOTAData(ctx context.Context, s otadata.Slots, w otadata.Write, call string) error {
	// Logged first: the model programs the entry at once, so a reset
	// while the write's time runs still leaves it in flash.
	e.b.logf("app: %s: otadata[%d] seq %d %s -> %s", call, w.Sector, w.Entry.Seq, otadata.StateName(w.From), otadata.StateName(w.Entry.State))
	return writeOTAData(ctx, e.b.flash, s.OTAData.Offset+uint32(w.Sector)*otadata.SectorSize, w.Entry)
}

// ArduinoHooks are the weak functions a sketch may override to take part
// in arduino-esp32's start-up check of a new app.
type ArduinoHooks struct {
	// VerifyRollbackLater is the sketch's verifyRollbackLater() (the
	// core's returns false): true leaves a PENDING_VERIFY app for the
	// sketch to confirm, or for the bootloader to roll back at the next
	// reset.
	VerifyRollbackLater bool
	// VerifyOta is the sketch's verifyOta() (nil: the core's, true); false
	// rolls back at once.
	VerifyOta func() bool
}

// InitArduino is the app-rollback step of arduino-esp32 3.x's
// initArduino() (cores/esp32/esp32-hal-misc.c, built with
// CONFIG_APP_ROLLBACK_ENABLE), which runs before the sketch's setup():
// unless verifyRollbackLater(), an app whose otadata entry is
// PENDING_VERIFY is confirmed with esp_ota_mark_app_valid_cancel_rollback()
// when verifyOta() agrees, else esp_ota_mark_app_invalid_rollback_and_reboot().
// So a normal Arduino app confirms itself as it starts, and only an update
// that crashes or hangs before this point is rolled back. Every Arduino
// app model for an ESP32-family board calls it first; on the ESP8266 it
// does nothing (its core has no such step). The core's log_e line is
// below the default core debug level (none), so nothing is printed.
func (e *AppEnv) InitArduino(ctx context.Context, h ArduinoHooks) error {
	if e.running == nil || h.VerifyRollbackLater {
		return nil
	}
	state, err := e.OTAState()
	if err != nil || state != otadata.StatePendingVerify {
		// esp_ota_get_state_partition failing (a factory app, an otadata
		// without an entry for this slot) skips the check.
		return nil
	}
	if h.VerifyOta == nil || h.VerifyOta() {
		return e.MarkAppValidCancelRollback(ctx)
	}
	err = e.MarkAppInvalidRollbackAndReboot(ctx)
	if errors.Is(err, otadata.ErrRollbackFailed) {
		// The core ignores the result: the app runs on, still
		// PENDING_VERIFY.
		e.b.logf("app: OTA verification failed, and %v", err)
		return nil
	}
	return err
}
