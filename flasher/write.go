package flasher

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/iotbench/iotbench/flasher/image"
	"github.com/iotbench/iotbench/flasher/ledger"
	"github.com/iotbench/iotbench/flasher/target"
)

// SectorSize is the SPI flash erase unit every ESP loader works in.
const SectorSize = 4096

// Region is one file to put into flash.
type Region struct {
	Addr uint32
	Data []byte
	Name string // for messages
}

// VerifyMode chooses how written data is checked.
type VerifyMode int

const (
	// VerifyAuto checks with SPI_FLASH_MD5 where the loader has it (every
	// stub, ESP32-family ROMs); the ESP8266 ROM has no way to hash flash,
	// so its writes stay unverified (and say so).
	VerifyAuto VerifyMode = iota
	// VerifyReadBack additionally verifies ESP8266 ROM writes by reading
	// the flash back through the SPI registers — about eight times slower
	// than the write itself.
	VerifyReadBack
	// VerifyNone skips verification.
	VerifyNone
)

// WriteOptions configure WriteFlash.
type WriteOptions struct {
	// Compress: nil = compress wherever the loader can inflate (every
	// stub, the ESP32-family ROMs).
	Compress *bool
	// FlashMode/FlashSize/FlashFreq rewrite header bytes 2–3 of an image
	// written at the bootloader offset, as esptool does (§14.5). "" or
	// "keep" leaves them; FlashSize may be "detect".
	FlashMode, FlashSize, FlashFreq string
	Verify                          VerifyMode
	// EraseAll erases the whole chip first.
	EraseAll bool
	// Retries is how many times a region is written again after a
	// verification failure or a packet that failed three times (default 4;
	// negative = none). Each retry of a stub write uses smaller packets.
	Retries int
	// DisableEraseWorkaround sends the ESP8266 ROM the plain erase size,
	// as a flasher without esptool's workaround would. For tests that
	// prove the ROM's erase bug is modelled; never for real use.
	DisableEraseWorkaround bool
	// Force writes images built for another chip, and images whose header
	// claims more flash than the chip has (esptool's --force).
	Force bool
	// Ledger records, under the board's MAC, what every region holds once
	// verified, and forgets a region before writing it; with Diff it is
	// where fast reflash looks first. nil = no ledger.
	Ledger *ledger.Ledger
	// Diff turns on fast reflash: only the 4 KiB sectors that do not
	// already hold the new bytes are written, then the whole region is
	// verified against the chip (and written whole if it does not match).
	// Needs a loader that can hash flash (a stub, or an ESP32-family ROM).
	// nil = write every region whole.
	Diff *DiffOptions
}

// DiffOptions tune fast reflash.
type DiffOptions struct {
	// With maps a region's address to what flash held there before, as
	// esptool 5's --diff-with: its sectors are trusted like the ledger's
	// (and verified afterwards just the same).
	With map[uint32][]byte
}

// CheckRegions validates regions before anything touches the board:
// sector-aligned offsets, no overlaps, everything inside flashSize (0 =
// unknown). Errors are InputErrors naming the fix.
func CheckRegions(regions []Region, flashSize int) error {
	sorted := append([]Region(nil), regions...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Addr < sorted[j].Addr })
	for i, r := range sorted {
		name := r.Name
		if name == "" {
			name = fmt.Sprintf("data at 0x%X", r.Addr)
		}
		if r.Addr%SectorSize != 0 {
			return inputErrorf("%s: offset 0x%X is not a multiple of 0x1000 (flash is erased in 4 KiB sectors, so the bytes before it in that sector would be lost): use 0x%X or 0x%X",
				name, r.Addr, r.Addr&^(SectorSize-1), (r.Addr+SectorSize)&^(SectorSize-1))
		}
		end := uint64(r.Addr) + uint64(len(r.Data))
		if flashSize > 0 && end > uint64(flashSize) {
			return inputErrorf("%s (%d bytes) at 0x%X does not fit in the %s flash (ends at 0x%X, flash ends at 0x%X): use a smaller file, a lower offset, or the right --flash-size",
				name, len(r.Data), r.Addr, target.SizeName(flashSize), end, flashSize)
		}
		if i > 0 {
			p := sorted[i-1]
			pend := uint64(p.Addr) + uint64(len(p.Data))
			if uint64(r.Addr) < pend {
				pn := p.Name
				if pn == "" {
					pn = fmt.Sprintf("data at 0x%X", p.Addr)
				}
				return inputErrorf("%s at 0x%X overlaps %s (0x%X..0x%X): move one of them", name, r.Addr, pn, p.Addr, pend)
			}
		}
	}
	return nil
}

// WriteFlash writes regions in address order, verifying each as the mode
// allows, and reports progress as events. Images are checked first: one
// built for another chip, or one whose header claims more flash than the
// chip has, is refused before anything is written (unless Force).
func (l *Loader) WriteFlash(ctx context.Context, regions []Region, o WriteOptions) error {
	if err := l.requireFlashOps(); err != nil {
		return err
	}
	flashSize, err := l.flashLimit(o.FlashSize)
	if err != nil {
		return err
	}
	if err := CheckRegions(regions, flashSize); err != nil {
		return err
	}
	sorted := append([]Region(nil), regions...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Addr < sorted[j].Addr })
	for i, r := range sorted {
		if len(r.Data) == 0 {
			continue
		}
		data, err := l.patchHeader(r.Addr, padTo(r.Data, 4), o, flashSize)
		if err != nil {
			return err
		}
		if !o.Force {
			if err := l.checkImage(r, data, flashSize); err != nil {
				return err
			}
		}
		sorted[i].Data = data
	}
	if err := l.SetFlashParams(flashSize); err != nil {
		return err
	}
	if o.EraseAll {
		if err := l.EraseFlash(ctx); err != nil {
			return err
		}
	}
	// Compressed by default wherever the loader can inflate: every stub
	// (as esptool) and the ESP32-family ROMs too, which esptool only
	// compresses for with --compress (§7.7) — their FLASH_DEFL_* cuts the
	// bytes on the wire as much as a stub's does.
	compress := l.canHash()
	if o.Compress != nil {
		compress = *o.Compress
	}
	if compress && !l.canHash() {
		return fmt.Errorf("%w: the ESP8266 ROM cannot decompress; drop --compress or use a stub", ErrUnsupported)
	}
	retries := o.Retries
	if retries == 0 {
		retries = 4
	} else if retries < 0 {
		retries = 0
	}
	bk := l.openBook(o.Ledger)
	if o.EraseAll {
		bk.forget(0, flashSize)
	}
	diff := o.Diff != nil && !o.EraseAll
	if diff && !l.canHash() {
		diff = false
		l.warn("fast reflash needs the loader to hash flash, which the ESP8266 ROM cannot: writing every region whole (a flasher stub can, --stub-file)")
	}
	warnedUnverified := false
	for _, r := range sorted {
		if len(r.Data) == 0 {
			l.warn("%s is empty: nothing written at 0x%X", r.Name, r.Addr)
			continue
		}
		data := r.Data
		if diff {
			done, err := l.reflash(ctx, r, compress, o, bk)
			if err == nil && done {
				bk.put(r.Addr, data, r.Name)
				continue
			}
			if err != nil && !retryable(err) {
				return err
			}
			if err != nil {
				l.warn("fast reflash of 0x%X failed (%v): writing it whole", r.Addr, err)
			}
		}
		bk.forget(r.Addr, len(data))
		sum := md5.Sum(data)
		want := hex.EncodeToString(sum[:])
		var werr error
		verified := false
		for attempt := 0; attempt <= retries; attempt++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			if attempt > 0 {
				l.warn("writing 0x%X again (attempt %d of %d): %v", r.Addr, attempt+1, retries+1, werr)
			}
			verified, werr = l.writeRegion(ctx, r.Addr, data, want, compress, o, stubPacketSize(attempt))
			if werr == nil {
				break
			}
			if !retryable(werr) {
				return werr
			}
		}
		if werr != nil {
			return werr
		}
		if verified {
			bk.put(r.Addr, data, r.Name)
		}
		if o.Verify == VerifyAuto && l.chip.IsESP8266() && !l.stub && !warnedUnverified {
			warnedUnverified = true
			l.warn("the ESP8266 ROM cannot hash flash, so this write is not verified: use a flasher stub (--stub-file) or --verify to read it back (slow)")
		}
	}
	return nil
}

// checkImage refuses, before anything is written, an image the chip
// cannot use: one whose extended header names another chip (esptool's
// write_flash guard, §14.4), or one whose header claims more flash than
// the chip has — the bootloader and the app size the flash from the
// header, and an app told 8MB on a 4MB chip stops at boot ("Detected size
// smaller than the size in the binary image header"). Data that does not
// parse as an image for this chip is not an image and passes, as in
// esptool.
func (l *Loader) checkImage(r Region, data []byte, flashSize int) error {
	if len(data) < 24 || data[0] != image.Magic {
		return nil
	}
	name := r.Name
	if name == "" {
		name = fmt.Sprintf("data at 0x%X", r.Addr)
	}
	if l.chip.IsESP8266() {
		// An ESP32-family image parses with its own chip ID and the
		// WP-pin byte 0xEE an ESP8266 image has no reason to carry.
		if other, ok := image.ChipForImageID(binary.LittleEndian.Uint16(data[12:14])); ok && data[8] == image.WPPinDisabled {
			if _, err := image.Parse(data, other); err == nil {
				return inputErrorf("%s is an %s image, not an ESP8266 one: build it for the ESP8266 (or use --force to flash anyway)", name, other)
			}
		}
	}
	im, err := image.Parse(data, l.chip.Name)
	if err != nil {
		return nil
	}
	if err := im.CheckChipID(l.chip.Name); err != nil {
		return inputErrorf("%s: %v", name, err)
	}
	if n, err := image.FlashSizeBytes(im.FlashSizeName); err == nil && flashSize > 0 && int(n) > flashSize {
		return inputErrorf("%s: its header says %s of flash but this chip has %s, and the firmware would stop at boot: rebuild it for %s, or rewrite the header with --flash-size %s (or detect)",
			name, im.FlashSizeName, target.SizeName(flashSize), target.SizeName(flashSize), target.SizeName(flashSize))
	}
	return nil
}

// retryable: worth writing the whole region again — a verification
// mismatch, or a packet that kept failing (a stub reports a stream broken
// by a resent packet only on a later one, §5.2).
func retryable(err error) bool {
	var ve *VerifyError
	return errors.As(err, &ve) || transient(err)
}

// requireFlashOps refuses chips whose loader iotbench cannot drive: an
// ESP32-family chip whose ROM lacks the flash commands (none known).
func (l *Loader) requireFlashOps() error {
	if !l.chip.IsESP8266() && !l.stub && !l.chip.ROMHasFlashOps {
		return fmt.Errorf("%w: the %s ROM has no flash commands iotbench knows; use a flasher stub (--stub-file)", ErrUnsupported, l.chip.Name)
	}
	return nil
}

// canHash: the loader can MD5 flash — every stub and every ESP32-family
// ROM, but not the ESP8266 ROM (§7.8).
func (l *Loader) canHash() bool { return l.stub || l.chip.ROMHasFlashOps }

// flashLimit is the flash size writes are checked against: the detected
// size, or a smaller explicit --flash-size (§7.6).
func (l *Loader) flashLimit(sizeOpt string) (int, error) {
	detected, err := l.FlashSize()
	if err != nil {
		return 0, err
	}
	if sizeOpt == "" || sizeOpt == "keep" || sizeOpt == "detect" {
		return detected, nil
	}
	n, err := parseSize(sizeOpt)
	if err != nil {
		return 0, &InputError{Msg: err.Error()}
	}
	if n > detected {
		l.warn("--flash-size %s is larger than the detected %s flash", sizeOpt, target.SizeName(detected))
		return detected, nil
	}
	return n, nil
}

func parseSize(s string) (int, error) {
	var n int
	var unit string
	if _, err := fmt.Sscanf(s, "%d%s", &n, &unit); err != nil || n <= 0 {
		return 0, fmt.Errorf("bad flash size %q: use e.g. 1MB, 4MB, 512KB, keep or detect", s)
	}
	switch unit {
	case "MB", "mb", "M", "m":
		return n << 20, nil
	case "KB", "kb", "K", "k":
		return n << 10, nil
	}
	return 0, fmt.Errorf("bad flash size %q: use e.g. 1MB, 4MB, 512KB, keep or detect", s)
}

func (l *Loader) patchHeader(addr uint32, data []byte, o WriteOptions, flashSize int) ([]byte, error) {
	mode, size, freq := orKeep(o.FlashMode), orKeep(o.FlashSize), orKeep(o.FlashFreq)
	if mode == "keep" && size == "keep" && freq == "keep" {
		return data, nil
	}
	out, changed, warnings, err := image.PatchFlashParams(data, l.chip.Name, addr, mode, size, freq, target.SizeName(flashSize))
	if err != nil {
		return nil, &InputError{Msg: err.Error()}
	}
	for _, w := range warnings {
		l.warn("%s", w)
	}
	if changed {
		l.emit(PhaseEvent{Phase: "header", Addr: addr, Size: len(data), Detail: fmt.Sprintf("flash params set to 0x%02X%02X", out[2], out[3])})
	}
	return out, nil
}

func orKeep(s string) string {
	if s == "" {
		return "keep"
	}
	return s
}

func padTo(b []byte, n int) []byte {
	if len(b)%n == 0 {
		return b
	}
	out := make([]byte, len(b), len(b)+n-len(b)%n)
	copy(out, b)
	for len(out)%n != 0 {
		out = append(out, 0xFF)
	}
	return out
}

// stubPacketSize shrinks the stub's 16 KiB packets on each retry of a
// region: on a noisy line a long packet is likely to be hit (at one bad
// byte in 20,000, more than half of 16 KiB packets are), so packets that
// keep failing are sent in smaller pieces (4 KiB, then 1 KiB).
func stubPacketSize(attempt int) int {
	return max(target.StubFlashWriteSize>>(2*attempt), target.ROMFlashWriteSize)
}

// writeRegion writes one (padded, patched) image and verifies it as the
// loader and the mode allow; verified reports whether it was.
func (l *Loader) writeRegion(ctx context.Context, addr uint32, data []byte, wantMD5 string, compress bool, o WriteOptions, stubBS int) (verified bool, err error) {
	start := time.Now()
	compressed, err := l.transfer(ctx, addr, data, compress, o, stubBS)
	if err != nil {
		return false, err
	}
	ev := WrittenEvent{Addr: addr, Size: len(data), Compressed: compressed, MD5: wantMD5}
	switch {
	case o.Verify == VerifyNone:
	case l.canHash():
		l.emit(PhaseEvent{Phase: "verify", Addr: addr, Size: len(data), Detail: "SPI_FLASH_MD5"})
		got, err := l.FlashMD5(addr, len(data))
		if err != nil {
			return false, err
		}
		if got != wantMD5 {
			return false, &VerifyError{Addr: addr, Size: len(data), Method: "MD5", Want: wantMD5, Got: got}
		}
		ev.Verified, ev.VerifiedBy = true, "md5"
	case o.Verify == VerifyReadBack:
		l.emit(PhaseEvent{Phase: "verify", Addr: addr, Size: len(data), Detail: "read back through SPI registers"})
		if err := l.verifyReadBack(addr, data); err != nil {
			return false, err
		}
		ev.Verified, ev.VerifiedBy = true, "read-back"
	}
	ev.Elapsed = time.Since(start)
	l.emit(ev)
	return ev.Verified, nil
}

// transfer sends data to flash at addr the way the loader and options
// say (compressed, stub packets, or ROM packets), reporting progress; it
// returns the compressed size (0 when sent plain).
func (l *Loader) transfer(ctx context.Context, addr uint32, data []byte, compress bool, o WriteOptions, stubBS int) (int, error) {
	start := time.Now()
	tx0, rx0 := l.wireTx, l.wireRx
	progress := func(done int) {
		l.emit(ProgressEvent{Phase: "write", Addr: addr, Done: done, Total: len(data), WireBytes: l.wireTx - tx0 + l.wireRx - rx0, Elapsed: time.Since(start)})
	}
	switch {
	case compress:
		return l.writeDeflated(ctx, addr, data, progress, stubBS)
	case l.stub:
		return 0, l.writeStubPlain(ctx, addr, data, progress, stubBS)
	default:
		return 0, l.writeROM(ctx, addr, data, progress, o.DisableEraseWorkaround)
	}
}

// verifyReadBack compares flash with want through SPI register reads. A
// mismatching 64-byte chunk is read again before it counts, because a
// READ_REG reply is not checksummed and a noisy line can corrupt it.
func (l *Loader) verifyReadBack(addr uint32, want []byte) error {
	start := time.Now()
	got, err := l.readFlashSPI(addr, len(want), func(done int) {
		l.emit(ProgressEvent{Phase: "verify", Addr: addr, Done: done, Total: len(want), Elapsed: time.Since(start)})
	})
	if err != nil {
		return err
	}
	for off := 0; off < len(want); off += spiReadChunk {
		end := min(off+spiReadChunk, len(want))
		if bytes.Equal(got[off:end], want[off:end]) {
			continue
		}
		ok := false
		for try := 0; try < 2 && !ok; try++ {
			again, err := l.readFlashSPI(addr+uint32(off), end-off, nil)
			if err != nil {
				return err
			}
			ok = bytes.Equal(again, want[off:end])
		}
		if !ok {
			return &VerifyError{Addr: addr, Size: len(want), Method: "read-back", Want: fmt.Sprintf("% X… at 0x%X", clip(want[off:end], 8), addr+uint32(off)), Got: fmt.Sprintf("% X…", clip(got[off:end], 8))}
		}
	}
	return nil
}

// FlashMD5 asks the loader for the MD5 of a flash region (§7.8).
func (l *Loader) FlashMD5(addr uint32, size int) (string, error) {
	if !l.canHash() {
		return "", fmt.Errorf("%w: the ESP8266 ROM has no SPI_FLASH_MD5", ErrUnsupported)
	}
	n := 32
	if l.stub {
		n = 16
	}
	var res []byte
	err := retry(3, func() error {
		var err error
		_, res, err = l.check("calculate MD5 of flash", OpSPIFlashMD5, words(addr, uint32(size), 0, 0), 0, timeoutPerMB(md5SecondsPerMB, size), n)
		return err
	})
	if err != nil {
		return "", err
	}
	if l.stub {
		return hex.EncodeToString(res), nil
	}
	return string(bytes.ToLower(res)), nil
}

// ---- ROM path -------------------------------------------------------------

// ESP8266ROMEraseSize is esptool's workaround for the ESP8266 ROM's
// FLASH_BEGIN erase bug (§7.3): the value to send so that the ROM, which
// erases more than asked when a region does not start on a 64 KiB block,
// erases (close to) the intended sectors.
func ESP8266ROMEraseSize(offset uint32, size int) int {
	const perBlock = 16
	n := (size + SectorSize - 1) / SectorSize
	s := int(offset / SectorSize)
	head := perBlock - s%perBlock
	if n < head {
		head = n
	}
	if n < 2*head {
		return (n + 1) / 2 * SectorSize
	}
	return (n - head) * SectorSize
}

// esp8266ROMErased predicts how many sectors the ROM erases for an erase
// size, per the doc's model of the bug (§7.3, an inference consistent with
// esptool's workaround): asked for r sectors with h sectors left in the
// 64 KiB block, it erases r + min(r, h).
func esp8266ROMErased(offset uint32, eraseSize int) int {
	r := (eraseSize + SectorSize - 1) / SectorSize
	h := 16 - int(offset/SectorSize)%16
	return r + min(r, h)
}

type romRun struct {
	off  uint32
	data []byte // nil: erase only
	size int
}

// planESP8266ROM splits a write (or, with data nil, an erase) so that the
// ROM erases exactly the sectors it covers. esptool's workaround alone
// erases one sector too many when the region spans an odd number of
// sectors below 2 × the sectors left in its 64 KiB block (§7.3), which
// would wipe whatever follows; an even sector count is always exact, so
// such a region is written as two even runs that overlap by one sector.
// A single-sector region has no even split and borrows its neighbour
// sector, whose contents are read back first and written again.
func (l *Loader) planESP8266ROM(addr uint32, size int, data []byte, disable bool) ([]romRun, error) {
	n := (size + SectorSize - 1) / SectorSize
	single := []romRun{{off: addr, data: data, size: size}}
	if disable || n == 0 || esp8266ROMErased(addr, ESP8266ROMEraseSize(addr, size)) <= n {
		return single, nil
	}
	sector := func(i int) []byte {
		if data == nil {
			return nil
		}
		return data[i*SectorSize : min(len(data), (i+1)*SectorSize)]
	}
	if n >= 3 {
		first := romRun{off: addr, size: (n - 1) * SectorSize}
		second := romRun{off: addr + uint32(n-2)*SectorSize, size: size - (n-2)*SectorSize}
		if data != nil {
			first.data = data[:(n-1)*SectorSize]
			second.data = data[(n-2)*SectorSize:]
		}
		return []romRun{first, second}, nil
	}
	// n == 1: pair the sector with its neighbour (the next one, or the
	// previous one at the end of the flash) and rewrite what that holds.
	flashSize, err := l.FlashSize()
	if err != nil {
		return nil, err
	}
	mine := padSector(sector(0))
	next := addr + SectorSize
	if int(next)+SectorSize <= flashSize {
		old, err := l.readFlashSPI(next, SectorSize, nil)
		if err != nil {
			return nil, err
		}
		if allFF(old) {
			return single, nil // the extra erase changes nothing
		}
		return []romRun{{off: addr, data: append(mine, old...), size: 2 * SectorSize}}, nil
	}
	prev := addr - SectorSize
	old, err := l.readFlashSPI(prev, SectorSize, nil)
	if err != nil {
		return nil, err
	}
	return []romRun{{off: prev, data: append(old, mine...), size: 2 * SectorSize}}, nil
}

func padSector(b []byte) []byte {
	out := bytes.Repeat([]byte{0xFF}, SectorSize)
	copy(out, b)
	return out
}

func allFF(b []byte) bool {
	for _, x := range b {
		if x != 0xFF {
			return false
		}
	}
	return true
}

// flashBegin sends FLASH_BEGIN with esptool's arguments and timeout: the
// ROM erases before replying, so it gets 30 s per MB (§7.2).
func (l *Loader) flashBegin(eraseSize, blocks int, offset uint32, blockSize int, size int) error {
	timeout := DefaultTimeout
	if !l.stub {
		timeout = timeoutPerMB(eraseSecondsPerMB, max(size, eraseSize))
	}
	args := words(uint32(eraseSize), uint32(blocks), uint32(blockSize), offset)
	if l.stub || l.chip.ROMBeginEncryptedWord {
		args = append(args, words(0)...)
	}
	return retry(3, func() error {
		_, _, err := l.check(fmt.Sprintf("begin flash write at 0x%X", offset), OpFlashBegin, args, 0, timeout, 0)
		return err
	})
}

func (l *Loader) writeROM(ctx context.Context, addr uint32, data []byte, progress func(int), disable bool) error {
	runs := []romRun{{off: addr, data: data, size: len(data)}}
	if l.chip.IsESP8266() {
		var err error
		if runs, err = l.planESP8266ROM(addr, len(data), data, disable); err != nil {
			return err
		}
	}
	done := 0
	for _, run := range runs {
		// ESP32-family ROMs erase exactly what they are asked (§16.9).
		erase := run.size
		if l.chip.IsESP8266() && !disable {
			erase = ESP8266ROMEraseSize(run.off, run.size)
		}
		blocks := (len(run.data) + target.ROMFlashWriteSize - 1) / target.ROMFlashWriteSize
		l.emit(PhaseEvent{Phase: "erase", Addr: run.off, Size: run.size})
		if err := l.flashBegin(erase, blocks, run.off, target.ROMFlashWriteSize, run.size); err != nil {
			return err
		}
		for seq := 0; seq < blocks; seq++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			blk := run.data[seq*target.ROMFlashWriteSize : min(len(run.data), (seq+1)*target.ROMFlashWriteSize)]
			if err := l.flashBlock(OpFlashData, blk, target.ROMFlashWriteSize, seq, DefaultTimeout); err != nil {
				return err
			}
			done = min(len(data), done+len(blk))
			progress(done)
		}
	}
	return nil
}

// flashBlock sends one DATA packet, padded to padTo with 0xFF when padTo
// > 0, retrying up to three times like esptool (§7.4).
func (l *Loader) flashBlock(op byte, blk []byte, padTo, seq int, timeout time.Duration) error {
	if padTo > 0 && len(blk) < padTo {
		p := make([]byte, padTo)
		copy(p, blk)
		for i := len(blk); i < padTo; i++ {
			p[i] = 0xFF
		}
		blk = p
	}
	pkt := append(dataHeader(len(blk), seq), blk...)
	chk := Checksum(blk)
	var err error
	for try := 0; try < dataTries; try++ {
		_, _, err = l.check(fmt.Sprintf("write to flash at seq %d", seq), op, pkt, chk, timeout, 0)
		if err == nil || !transient(err) {
			return err
		}
		l.tracef("block %d failed (%v), retrying", seq, err)
	}
	return err
}

// ---- stub path ------------------------------------------------------------

func (l *Loader) writeStubPlain(ctx context.Context, addr uint32, data []byte, progress func(int), bs int) error {
	blocks := (len(data) + bs - 1) / bs
	if err := l.flashBegin(len(data), blocks, addr, bs, len(data)); err != nil {
		return err
	}
	for seq := 0; seq < blocks; seq++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		blk := data[seq*bs : min(len(data), (seq+1)*bs)]
		if err := l.flashBlock(OpFlashData, blk, bs, seq, DefaultTimeout); err != nil {
			return err
		}
		progress(min(len(data), (seq+1)*bs))
	}
	_, _, err := l.check("finish flash write", OpFlashEnd, words(1), 0, DefaultTimeout, 0)
	return err
}

// writeDeflated sends a zlib (level 9) stream (§7.7). Each packet's
// timeout follows the data it inflates to; the stub ACKs a packet on
// receipt and writes it while the next arrives, so packet N waits for the
// work of packet N−1.
func (l *Loader) writeDeflated(ctx context.Context, addr uint32, data []byte, progress func(int), bs int) (int, error) {
	if !l.stub {
		bs = target.ROMFlashWriteSize
	}
	comp := compressForStub(data, bs)
	blocks := (len(comp) + bs - 1) / bs
	inflated, err := inflatedAt(comp, bs)
	if err != nil {
		return 0, err
	}
	size := len(data)
	beginTimeout := DefaultTimeout
	if !l.stub {
		size = (len(data) + bs - 1) / bs * bs // ROM wants the erase size rounded up
		beginTimeout = timeoutPerMB(eraseSecondsPerMB, size)
	}
	args := words(uint32(size), uint32(blocks), uint32(bs), addr)
	if l.stub || l.chip.ROMBeginEncryptedWord {
		args = append(args, words(0)...)
	}
	if err := retry(3, func() error {
		_, _, err := l.check(fmt.Sprintf("begin compressed write at 0x%X", addr), OpFlashDeflBegin, args, 0, beginTimeout, 0)
		return err
	}); err != nil {
		return 0, err
	}
	timeout := DefaultTimeout
	for seq := 0; seq < blocks; seq++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		blk := comp[seq*bs : min(len(comp), (seq+1)*bs)]
		blockTimeout := timeoutPerMB(writeSecondsPerMB, inflated[seq+1]-inflated[seq])
		if !l.stub {
			timeout = blockTimeout
		}
		if err := l.flashBlock(OpFlashDeflData, blk, 0, seq, timeout); err != nil {
			return 0, err
		}
		if l.stub {
			timeout = blockTimeout
		}
		progress(min(len(data), inflated[seq+1]))
	}
	if l.stub {
		if _, _, err := l.check("finish compressed write", OpFlashDeflEnd, words(1), 0, timeout, 0); err != nil {
			return 0, err
		}
	}
	return len(comp), nil
}

// compressForStub compresses at level 9 like esptool. If the stream's
// last packet would hold only (part of) the 4-byte Adler-32 trailer, the
// stub can finish writing before it has seen the trailer and then report
// "too much data" (its inflate loop stops when nothing remains to write,
// with the stream not yet complete); a lower level changes the length.
func compressForStub(data []byte, bs int) []byte {
	var comp []byte
	for level := zlib.BestCompression; level >= zlib.BestSpeed; level-- {
		var buf bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&buf, level)
		zw.Write(data)
		zw.Close()
		comp = buf.Bytes()
		if n := len(comp) % bs; n == 0 || n > 4 {
			break
		}
	}
	return comp
}

// countingByteReader lets the inflater pull compressed bytes one at a time
// so the output can be attributed to the packet that carried its input.
type countingByteReader struct {
	b   []byte
	pos int
}

func (r *countingByteReader) Read(p []byte) (int, error) {
	if r.pos >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.pos:])
	r.pos += n
	return n, nil
}

func (r *countingByteReader) ReadByte() (byte, error) {
	if r.pos >= len(r.b) {
		return 0, io.EOF
	}
	r.pos++
	return r.b[r.pos-1], nil
}

// inflatedAt[i] is how many bytes the first i packets of comp inflate to.
func inflatedAt(comp []byte, bs int) ([]int, error) {
	blocks := (len(comp) + bs - 1) / bs
	out := make([]int, blocks+1)
	r := &countingByteReader{b: comp}
	zr, err := zlib.NewReader(r)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 1024)
	total := 0
	for {
		n, err := zr.Read(buf)
		total += n
		blk := min(blocks, (r.pos+bs-1)/bs)
		for i := blk; i <= blocks; i++ {
			out[i] = total
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
