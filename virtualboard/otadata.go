package virtualboard

import (
	"context"
	"errors"
	"fmt"

	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/otadata"
)

// The otadata partition's format and the bootloader's choice of app are
// flasher/otadata's (provision compares otadata with the same rules);
// this file is the board side: reading and writing them in the flash
// model with its timing.

// BootApp is the app partition this flash boots on chip and the choice
// that led to it, as the second-stage bootloader will find it on the next
// boot: otadata.Select (app rollback included: an entry left
// PENDING_VERIFY counts as aborted), then the first partition in boot
// order whose image is valid. It only reads; the bootloader's otadata
// writes are in the Selection. A running app's own partition is
// AppEnv.RunningPartition: while an update is unconfirmed the two differ.
func BootApp(fl *Flash, chip string) (layout.Partition, otadata.Selection, error) {
	pt, err := layout.ParseBinary(fl.Read(layout.PartitionTableOffset, layout.PartitionTableMaxLen))
	if err != nil {
		return layout.Partition{}, otadata.Selection{}, fmt.Errorf("partition table at 0x%x: %w", layout.PartitionTableOffset, err)
	}
	s := otadata.SlotsOf(pt)
	sel, err := otadata.Select(pt, s.Read(fl.Read))
	if err != nil {
		return layout.Partition{}, sel, err
	}
	if _, p, im, _ := tryBoot(s, fl, chip, sel.Index); im != nil {
		return p, sel, nil
	}
	return layout.Partition{}, sel, errors.New("no bootable app partition in the partition table")
}

// bootFailure is an app the bootloader could not boot and why, in
// "tag: message" form (see checkApp).
type bootFailure struct {
	index int
	p     layout.Partition
	why   string
}

// tryBoot checks the apps in boot order from start as esp_image does and
// returns the first valid one (im nil when none is) and the failures
// before it.
func tryBoot(s otadata.Slots, fl *Flash, chip string, start int) (int, layout.Partition, *image.Image, []bootFailure) {
	var failed []bootFailure
	for _, i := range s.BootOrder(start) {
		p := *s.Partition(i)
		im, why := checkApp(fl.Read(p.Offset, int(p.Size)), chip, p)
		if why == "" {
			return i, p, im, failed
		}
		failed = append(failed, bootFailure{i, p, why})
	}
	return 0, layout.Partition{}, nil, failed
}

// SetBootPartition is esp_ota_set_boot_partition for an OTA slot without
// the image check (esp_rewrite_ota_data, see otadata.SetBoot); the write
// goes through fl with its timing. The entry's state is NEW
// (set_new_state_otadata): arduino-esp32 3.x is built with
// CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE (esp32-arduino-lib-builder
// configs/defconfig.common, bootloader and libraries alike), so the
// bootloader makes it PENDING_VERIFY on the next boot and ABORTED on the
// boot after unless the app confirms itself (AppEnv.InitArduino).
func SetBootPartition(ctx context.Context, fl *Flash, pt *layout.PartitionTable, p layout.Partition) error {
	s := otadata.SlotsOf(pt)
	sector, e, err := otadata.SetBoot(pt, s.Read(fl.Read), p, otadata.StateNew)
	if err != nil {
		return err
	}
	return writeOTAData(ctx, fl, s.OTAData.Offset+uint32(sector)*otadata.SectorSize, e)
}

// writeOTAData erases one otadata sector and programs entry at its start
// (write_otadata in bootloader_utility.c, rewrite_ota_seq in
// esp_ota_ops.c).
func writeOTAData(ctx context.Context, fl *Flash, addr uint32, entry otadata.Entry) error {
	fl.EraseSector(addr)
	fl.Program(addr, entry.Marshal())
	return fl.WaitIdle(ctx)
}

// ValidateApp checks the app image in partition p as esp_image_verify
// does (what esp_ota_set_boot_partition runs before it writes otadata);
// the error is the bootloader's "tag: message".
func ValidateApp(fl *Flash, chip string, p layout.Partition) error {
	if _, why := checkApp(fl.Read(p.Offset, int(p.Size)), chip, p); why != "" {
		return errors.New(why)
	}
	return nil
}
