package virtualboard

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/otadata"
)

// causeRTCWDT is the ESP32's RTC watchdog reset (device-side.md §1.8 table:
// 0x10 RTCWDT_RTC_RESET), which ends the ROM's retries when it finds no
// second-stage bootloader.
const causeRTCWDT = 0x10

// What an ESP32-family ROM does when the flash holds no bootloader. The
// docs (device-side.md §1.8) only say that `invalid header: 0x...` means
// no valid second-stage bootloader was found; public boot logs of blank
// boards (esp-idf, ESPHome and Arduino issue threads) show the line
// repeated about every 46 ms, and on the original ESP32 around eight times
// before the RTC watchdog resets the chip (`rst:0x10 (RTCWDT_RTC_RESET)`).
// Logs of newer chips show the line repeating without a banner in
// between, so only the ESP32 model resets.
const (
	invalidHeaderEvery = 46 * time.Millisecond
	invalidHeaderTries = 8
)

// bootloaderResetDelay is how long the second-stage bootloader takes from
// its last error line to bootloader_reset(); not documented, a short
// pause so the lines leave the UART and a boot loop is not a busy loop.
const bootloaderResetDelay = 300 * time.Millisecond

// bootFlash32 is an ESP32-family chip booting from flash: the ROM loads
// the second-stage bootloader from the chip's bootloader offset
// (esp-serial-protocol.md §14.4: 0x1000 on the ESP32 and S2, 0x0 on the
// S3, C3, C6 and H2) and prints a `load:`/`entry` line per segment
// (device-side.md §1.8); the bootloader reads the partition table at
// 0x8000 (filesystem-images.md §1.2), picks the factory app (or the first
// OTA slot when there is none), validates it as ESP-IDF's esp_image does,
// and jumps to it: then Config.App runs. start is the board time of the
// reset (ESP-IDF log timestamps count milliseconds from it).
func (b *Board) bootFlash32(ctx context.Context, start time.Duration) {
	chip := b.chip.Name
	blOff, err := image.BootloaderOffset(chip)
	if err != nil {
		b.logf("flash boot: %v", err)
		return
	}
	raw := b.flash.Read(blOff, int(layout.PartitionTableOffset-blOff))
	bl, err := image.Parse(raw, chip)
	if err != nil {
		// The ROM checks the magic; an image whose headers run past its
		// room is treated the same way here (the docs say nothing more).
		b.logf("flash boot: no second-stage bootloader at 0x%x: %v", blOff, err)
		b.invalidHeader(ctx, binary.LittleEndian.Uint32(raw))
		return
	}
	if err := b.clk.SleepUntil(ctx, b.flash.ChargeRead(bl.Length)); err != nil {
		return
	}
	var out strings.Builder
	if chip == image.ChipESP32 {
		out.WriteString(esp32SPILines(bl))
	}
	for _, s := range bl.Segments {
		fmt.Fprintf(&out, "load:0x%08x,len:%d\r\n", uint32(s.LoadAddr), s.Length)
	}
	if !bl.ChecksumValid {
		// device-side.md §1.8: "csum err:0x9a!=0x89" means a corrupt
		// segment; the ROM then stops in ets_main.c.
		fmt.Fprintf(&out, "csum err:0x%02x!=0x%02x\r\nets_main.c 371 \r\n", bl.ComputedChecksum, bl.Checksum)
		b.print(out.String())
		b.logf("flash boot: bootloader checksum 0x%02x, image says 0x%02x: ROM halts", bl.ComputedChecksum, bl.Checksum)
		<-ctx.Done()
		return
	}
	fmt.Fprintf(&out, "entry 0x%08x\r\n", uint32(bl.Entry))
	b.print(out.String())

	// The second-stage bootloader. arduino-esp32's prints nothing on a
	// normal boot and the docs describe none of its lines, so success is
	// silent; failures print ESP-IDF's error lines (esp_image,
	// bootloader_utility, bootloader_common), which any log level above
	// NONE shows, then it resets (bootloader_reset) — a boot loop.
	errf := func(tag, format string, a ...any) string {
		return fmt.Sprintf("E (%d) %s: %s\r\n", (b.clk.Now() - start).Milliseconds(), tag, fmt.Sprintf(format, a...))
	}
	if err := bl.CheckChipID(chip); err != nil {
		b.bootloaderFail(ctx, "bootloader: "+err.Error(), errf("boot_comm", "mismatch chip ID, expected %d, found %d", b.chip.ImageID, bl.Extended.ChipID))
		return
	}
	pt, err := layout.ParseBinary(b.flash.Read(layout.PartitionTableOffset, layout.PartitionTableMaxLen))
	if err != nil {
		b.bootloaderFail(ctx, "partition table: "+err.Error(), errf("boot", "Failed to verify partition table")+errf("boot", "load partition table error!"))
		return
	}
	// bootloader_utility_get_selected_boot_partition, then
	// bootloader_utility_load_boot_image (bootloader_utility.c): start at
	// the slot otadata selects, try the others in the bootloader's order,
	// print each failure, reset when none boots.
	s := otadata.SlotsOf(pt)
	sel, err := otadata.Select(pt, s.Read(b.flash.Read))
	if err != nil {
		// bootloader_common_read_otadata failing: INVALID_INDEX, which
		// bootloader_utility_load_boot_image does not take, so the
		// bootloader resets (the wording is ours).
		b.bootloaderFail(ctx, err.Error(), errf("boot", "%v", err))
		return
	}
	// App rollback (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE, which
	// arduino-esp32's bootloader has): Select aborted an entry left
	// PENDING_VERIFY and moved a NEW one to PENDING_VERIFY; the
	// bootloader programs those entries before it loads anything. Its
	// lines are ESP_LOGD, so only the board's log shows them.
	for _, w := range sel.Writes {
		b.logf("flash boot: otadata[%d] seq %d %s -> %s%s", w.Sector, w.Entry.Seq, otadata.StateName(w.From), otadata.StateName(w.Entry.State), rollbackNote(w))
		if err := writeOTAData(ctx, b.flash, s.OTAData.Offset+uint32(w.Sector)*otadata.SectorSize, w.Entry); err != nil {
			return
		}
	}
	notes := ""
	if sel.NoteIsError {
		notes = errf("boot", "%s", sel.Note)
	}
	index, app, im, failed := tryBoot(s, b.flash, chip, sel.Index)
	var fails strings.Builder
	fails.WriteString(notes)
	for _, f := range failed {
		tag, msg, _ := strings.Cut(f.why, ": ")
		fails.WriteString(errf(tag, "%s", msg) + errf("boot", "%s", notBootable(f.index)))
		b.logf("flash boot: app %s: %s", f.p.Label, f.why)
	}
	if im == nil {
		b.bootloaderFail(ctx, "no bootable app partition", fails.String()+errf("boot", "No bootable app partitions in the partition table"))
		return
	}
	b.print(fails.String())
	if err := b.clk.SleepUntil(ctx, b.flash.ChargeRead(im.Length)); err != nil {
		return
	}
	// The real bootloader logs "I (…) boot: Loaded app from partition at
	// offset 0x…" (try_load_partition); arduino-esp32's bootloader prints
	// no info lines, so it goes to the board's log, with the slot.
	b.logf("flash boot: Loaded app from partition at offset 0x%x (%s, %s%s), jumping to 0x%08x",
		app.Offset, app.Label, app.SubTypeName, seqNote(sel), uint32(im.Entry))
	// try_load_partition has loaded the app; set_actual_ota_seq runs
	// next, before load_image starts it: with no factory app and an otadata in
	// the initial state (all 0xFF, as ESP-IDF's ota_data_initial.bin or
	// an erase leaves it), otadata[0] gets seq slot+1, state VALID. An
	// otadata holding boot_app0.bin (what arduino-esp32 flashes) is not
	// initial, so Arduino boards boot ota_0 without this write. Its
	// ESP_LOGI line is below arduino-esp32's bootloader log level (ERROR,
	// lib-builder configs/defconfig.debug_default), so it goes to the
	// board's log only.
	if e, ok := otadata.ActualSeq(sel, index); ok {
		if err := writeOTAData(ctx, b.flash, s.OTAData.Offset, e); err != nil {
			return
		}
		b.logf("flash boot: Set actual ota_seq=%d in otadata[0]", e.Seq)
	}
	if b.cfg.App != nil {
		b.cfg.App(ctx, &AppEnv{b: b, Entry: uint32(im.Entry), ResetCause: b.lastCause(), running: &app})
	}
	<-ctx.Done()
}

// esp32SPILines are the original ESP32 ROM's flash set-up lines before
// the loads (device-side.md §1.8 example), from the bootloader's extended
// header (WP pin, drive strengths, esp-serial-protocol.md §14.4) and flash
// mode; the SPI clock divides the 80 MHz APB clock down to the image's
// flash frequency. Newer chips print other lines the docs do not give,
// so they print none.
func esp32SPILines(im *image.Image) string {
	e := im.Extended
	div := map[string]int{"80m": 1, "40m": 2, "26m": 3, "20m": 4}[im.FlashFreqName]
	if div == 0 {
		div = 2
	}
	mode := strings.ToUpper(im.FlashModeName)
	if mode == "" {
		mode = "DIO"
	}
	return fmt.Sprintf("configsip: 0, SPIWP:0x%02x\r\n", e.WPPin) +
		fmt.Sprintf("clk_drv:0x%02x,q_drv:0x%02x,d_drv:0x%02x,cs0_drv:0x%02x,hd_drv:0x%02x,wp_drv:0x%02x\r\n",
			e.ClkDrv, e.QDrv, e.DDrv, e.CSDrv, e.HDDrv, e.WPDrv) +
		fmt.Sprintf("mode:%s, clock div:%d\r\n", mode, div)
}

// invalidHeader is the ROM finding no image at the bootloader offset: it
// prints the first word it read and tries again (see invalidHeaderEvery).
func (b *Board) invalidHeader(ctx context.Context, word uint32) {
	line := fmt.Sprintf("invalid header: 0x%08x\r\n", word)
	for i := 0; ; i++ {
		if b.chip.Name == image.ChipESP32 && i == invalidHeaderTries {
			b.restartWith(causeRTCWDT)
			<-ctx.Done()
			return
		}
		b.print(line)
		if b.clk.Sleep(ctx, invalidHeaderEvery) != nil {
			return
		}
	}
}

// bootloaderFail prints the second-stage bootloader's error lines and
// resets the chip after a moment, as bootloader_reset() does.
func (b *Board) bootloaderFail(ctx context.Context, why, lines string) {
	b.logf("flash boot: second-stage bootloader fails: %s", why)
	b.print(lines)
	if b.waitTx(ctx) != nil || b.clk.Sleep(ctx, bootloaderResetDelay) != nil {
		return
	}
	b.softReset()
	<-ctx.Done()
}

// checkApp validates an app image as ESP-IDF's esp_image_verify does and
// returns "tag: message" in the bootloader's words when it fails: magic,
// chip ID, checksum, the appended SHA-256, all inside the partition.
func checkApp(data []byte, chip string, p layout.Partition) (*image.Image, string) {
	if len(data) == 0 || data[0] != image.Magic {
		return nil, fmt.Sprintf("esp_image: image at 0x%x has invalid magic byte (nothing flashed here?)", p.Offset)
	}
	if len(data) > 1 && data[1] > image.MaxSegments {
		return nil, fmt.Sprintf("esp_image: image at 0x%x segment count %d exceeds max %d", p.Offset, data[1], image.MaxSegments)
	}
	im, err := image.Parse(data, chip)
	if err != nil {
		// Segments that run past the partition's end (only the partition
		// was read). ESP-IDF names the image length here, which an image
		// cut off by the partition does not tell; the wording is ours.
		return nil, fmt.Sprintf("esp_image: image at 0x%x does not fit in partition length %d", p.Offset, p.Size)
	}
	if err := im.CheckChipID(chip); err != nil {
		want, _ := image.ImageChipID(chip)
		return nil, fmt.Sprintf("boot_comm: mismatch chip ID, expected %d, found %d", want, im.Extended.ChipID)
	}
	if !im.ChecksumValid {
		return nil, fmt.Sprintf("esp_image: Checksum failed. Calculated 0x%x read 0x%x", im.ComputedChecksum, im.Checksum)
	}
	if im.SHA256 != nil && !im.SHA256.Valid {
		return nil, "esp_image: Image hash failed - image is corrupt"
	}
	return im, ""
}

// rollbackNote says what a rollback write means, for the board's log.
func rollbackNote(w otadata.Write) string {
	switch w.Entry.State {
	case otadata.StateAborted:
		return " (the app never confirmed itself: rolled back)"
	case otadata.StatePendingVerify:
		return " (first boot of an update: the app must confirm itself before the next reset)"
	}
	return ""
}

// seqNote says which otadata entry chose the slot, for the board's log.
func seqNote(sel otadata.Selection) string {
	if sel.Active < 0 {
		if sel.Note != "" {
			return "; " + sel.Note
		}
		return ""
	}
	return fmt.Sprintf("; otadata[%d] seq %d", sel.Active, sel.Entries[sel.Active].Seq)
}

// notBootable is log_invalid_app_partition's message for index.
func notBootable(index int) string {
	switch index {
	case otadata.FactoryIndex:
		return "Factory app partition is not bootable"
	case otadata.TestAppIndex:
		return "Factory test app partition is not bootable"
	}
	return fmt.Sprintf("OTA app partition slot %d is not bootable", index)
}
