package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/fsimage"
	"github.com/iotbench/iotbench/flasher/ihex"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/place"
	"github.com/iotbench/iotbench/flasher/target"
)

func (a *app) chipIDCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "chip-id",
		Aliases: []string{"chip_id"},
		Short:   "Identify the chip and print its chip ID (ESP8266) or MAC",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.connect(cmd.Context(), false)
			if err != nil {
				return err
			}
			res := map[string]any{"chip": s.info.Chip.Name, "description": s.info.Description, "mac": target.FormatMAC(s.info.MAC)}
			if s.info.HasChipID {
				res["chip_id"] = fmt.Sprintf("0x%08x", s.info.ChipID)
				a.out.say("Chip ID: 0x%08x", s.info.ChipID)
			} else {
				a.out.say("%s has no chip ID; its MAC is %s", s.info.Chip.Name, target.FormatMAC(s.info.MAC))
			}
			a.out.result(res)
			return s.finish()
		},
	}
}

func (a *app) readMACCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "read-mac",
		Aliases: []string{"read_mac"},
		Short:   "Print the chip's MAC address",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.connect(cmd.Context(), false)
			if err != nil {
				return err
			}
			a.out.say("MAC: %s", target.FormatMAC(s.info.MAC))
			a.out.result(map[string]any{"chip": s.info.Chip.Name, "mac": target.FormatMAC(s.info.MAC)})
			return s.finish()
		},
	}
}

func (a *app) flashIDCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "flash-id",
		Aliases: []string{"flash_id"},
		Short:   "Read the SPI flash's JEDEC ID and size",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.connect(cmd.Context(), false)
			if err != nil {
				return err
			}
			id, err := s.loader.FlashID()
			if err != nil {
				s.close()
				return err
			}
			size, err := s.loader.FlashSize()
			if err != nil {
				s.close()
				return err
			}
			a.out.say("Manufacturer: %02x", byte(id))
			a.out.say("Device: %02x%02x", byte(id>>8), byte(id>>16))
			a.out.say("Detected flash size: %s", target.SizeName(size))
			a.out.result(map[string]any{"manufacturer": fmt.Sprintf("%02x", byte(id)), "device": fmt.Sprintf("%02x%02x", byte(id>>8), byte(id>>16)), "jedec_id": fmt.Sprintf("0x%06x", id), "size": size, "size_name": target.SizeName(size)})
			return s.finish()
		},
	}
}

func (a *app) writeFlashCommand() *cobra.Command {
	var mode, size, freq string
	var eraseAll, compress, noCompress, verify, noVerify, noDiff, force bool
	var fsDir, fsKind, fsImage, fsLayout, fsTime, partitions, fsPartition string
	var diffWith []string
	cmd := &cobra.Command{
		Use:     "write-flash [flags] ADDRESS FILE [ADDRESS FILE...]",
		Aliases: []string{"write_flash"},
		Short:   "Write files to flash at the given addresses",
		Long: `Write one or more files to flash. Addresses must be multiples of 0x1000
(flash erases whole 4 KiB sectors); files must not overlap or run past the
end of the flash. An Intel HEX file (.hex) carries its own addresses: the
ADDRESS given with it is ignored, as in esptool. A partition table CSV
(.csv) is converted to the binary table first.

Data is sent compressed wherever the loader can inflate it — a flasher stub
(--stub-file, or one found in an installed esptool) or the ROM of any
ESP32-family chip — at --baud, and verified with MD5. The ESP8266 ROM can do
neither: 115200 baud, 1 KiB packets, no MD5 — add --verify to read the data
back through the SPI registers (slow).

Fast reflash (on wherever the loader can hash flash): only the 4 KiB
sectors that do not already hold the new bytes are written. What the board
holds is known from the flash ledger (what iotbench last wrote to this
board, by MAC, in the data directory), from --diff-with files (esptool 5),
or by asking the chip for MD5s. The whole region is verified afterwards and
written whole if it does not match. --no-diff writes everything.

Images are checked first: one built for another chip, or whose header says
more flash than the chip has, is refused (--force writes it anyway). An
image written at the bootloader offset (0x0 on the ESP8266, S3, C3, C6, H2;
0x1000 on the ESP32 and S2) gets header bytes 2–3 rewritten when
--flash-mode/--flash-size/--flash-freq say so, exactly as esptool does
(recomputing the appended SHA-256 of ESP32-family images).

--fs DIR builds a filesystem image from DIR and writes it where it
belongs: for an ESP8266 at the --layout's filesystem offset (what
PlatformIO's uploadfs does); for an ESP32-family chip in the spiffs/littlefs
partition of the partition table — the one in --partitions (a CSV or binary
file, or an arduino-esp32 scheme name such as default; it is written at
0x8000 too), the one among the files written, or the one on the chip.
--fs-image FILE writes a prepared image there after checking it fits.

Examples:
  iotbench write-flash 0x0 firmware.bin
  iotbench -b 921600 write-flash 0x1000 bootloader.bin 0x8000 partitions.csv 0x10000 app.bin
  iotbench write-flash --diff-with old-app.bin 0x10000 app.bin
  iotbench write-flash --fs data/ --layout 4M1M 0x0 firmware.bin
  iotbench write-flash --fs data/ --partitions default 0x10000 app.bin`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args)%2 != 0 || (len(args) == 0 && fsDir == "" && fsImage == "") {
				return usagef("write-flash needs ADDRESS FILE pairs (e.g. write-flash 0x0 firmware.bin), or --fs DIR --layout NAME")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if compress && noCompress {
				return usagef("--compress and --no-compress contradict each other")
			}
			if verify && noVerify {
				return usagef("--verify and --no-verify contradict each other")
			}
			if noDiff && len(diffWith) > 0 {
				return usagef("--no-diff and --diff-with contradict each other")
			}
			if fsLayout != "" && (partitions != "" || fsPartition != "") {
				return usagef("--layout is for ESP8266 layouts, --partitions/--fs-partition for ESP32 partition tables: give one")
			}
			in, err := readFlashInputs(args)
			if err != nil {
				return err
			}
			with, err := diffWithFiles(diffWith, in)
			if err != nil {
				return err
			}
			regions := in.regions()
			var fsRegion *flasher.Region
			flashNeed := 0
			if fsLayout != "" || (fsDir == "" && fsImage == "") {
				if fsRegion, flashNeed, err = fsRegionFor(fsDir, fsImage, fsKind, fsLayout, fsTime); err != nil {
					return err
				}
			}
			if fsRegion != nil {
				a.out.say("Filesystem: %s", fsRegion.Name)
				regions = append(regions, *fsRegion)
			}
			// Catch what needs no board before touching one.
			if err := flasher.CheckRegions(regions, 0); err != nil {
				return err
			}
			s, err := a.connect(cmd.Context(), false)
			if err != nil {
				return err
			}
			fail := func(err error) error { s.close(); return err }
			chip := s.loader.Chip()
			have, err := s.loader.FlashSize()
			if err != nil {
				return fail(err)
			}
			if flashNeed > 0 && have < flashNeed {
				var fit []string
				for _, l := range layout.ESP8266ForFlash(have) {
					if l.HasFS() {
						fit = append(fit, l.Name)
					}
				}
				return fail(&flasher.InputError{Msg: fmt.Sprintf("layout %s needs %s of flash but this board has %s: use one of %s", fsLayout, target.SizeName(flashNeed), target.SizeName(have), strings.Join(fit, ", "))})
			}
			if fsRegion == nil && (fsDir != "" || fsImage != "") {
				if chip.IsESP8266() {
					return fail(usagef("the ESP8266 has no partition table: say which flash layout the filesystem is for with --layout (e.g. 4M1M; see iotbench layouts)"))
				}
				pt, src, err := a.partitionTable(cmd.Context(), s, partitions, regions, have)
				if err != nil {
					return fail(err)
				}
				if partitions != "" && !coversAddr(regions, chip.PartitionTableOffset) {
					bin, err := pt.Binary()
					if err != nil {
						return fail(&flasher.InputError{Msg: err.Error()})
					}
					regions = append(regions, flasher.Region{Addr: chip.PartitionTableOffset, Data: bin, Name: "partition table (" + src + ")"})
				}
				r, err := esp32FSRegion(pt, src, fsPartition, fsDir, fsImage, fsKind, fsTime)
				if err != nil {
					return fail(err)
				}
				a.out.say("Filesystem: %s", r.Name)
				regions = append(regions, *r)
			} else if partitions != "" || fsPartition != "" {
				return fail(usagef("--partitions and --fs-partition say where --fs DIR or --fs-image FILE goes: give one of those too (a table alone is written with ADDRESS FILE, e.g. 0x8000 partitions.csv)"))
			}
			if err := checkPartitionRegions(chip, regions, have); err != nil {
				return fail(err)
			}
			o := flasher.WriteOptions{FlashMode: mode, FlashSize: size, FlashFreq: freq, EraseAll: eraseAll, Force: force, Ledger: a.openLedger()}
			if !noDiff {
				o.Diff = &flasher.DiffOptions{With: with}
			}
			if compress {
				t := true
				o.Compress = &t
			}
			if noCompress {
				f := false
				o.Compress = &f
			}
			if verify {
				o.Verify = flasher.VerifyReadBack
			}
			if noVerify {
				o.Verify = flasher.VerifyNone
			}
			if err := s.loader.WriteFlash(cmd.Context(), regions, o); err != nil {
				return fail(err)
			}
			return s.finish()
		},
	}
	f := cmd.Flags()
	f.StringVar(&mode, "flash-mode", "keep", "rewrite the image's SPI mode: keep, qio, qout, dio, dout")
	f.StringVar(&size, "flash-size", "keep", "rewrite the image's flash size: keep, detect, 1MB, 2MB, 4MB, …")
	f.StringVar(&freq, "flash-freq", "keep", "rewrite the image's flash frequency: keep, 40m, 26m, 20m, 80m")
	f.BoolVarP(&eraseAll, "erase-all", "e", false, "erase the whole flash before writing")
	f.BoolVarP(&compress, "compress", "z", false, "compress data in transfer (the default wherever the loader can inflate)")
	f.BoolVarP(&noCompress, "no-compress", "u", false, "do not compress data in transfer")
	f.BoolVar(&verify, "verify", false, "also verify ESP8266 ROM-mode writes by reading flash back (slow); other writes are always MD5-verified")
	f.BoolVar(&noVerify, "no-verify", false, "skip verification")
	f.BoolVar(&noDiff, "no-diff", false, "write every file whole instead of only the sectors that changed")
	f.StringSliceVar(&diffWith, "diff-with", nil, "files flashed before, zipped with the ADDRESS FILE pairs ('skip' for none): only changed sectors are written (esptool 5)")
	f.BoolVar(&force, "force", false, "write images built for another chip or for more flash than the chip has")
	f.StringVar(&fsDir, "fs", "", "build a filesystem image from this folder and write it where the layout or partition table puts it")
	f.StringVar(&fsKind, "fs-type", "littlefs", "filesystem for --fs: littlefs or spiffs")
	f.StringVar(&fsImage, "fs-image", "", "write this filesystem image where the layout or partition table puts it (checked to fit)")
	f.StringVar(&fsLayout, "layout", "", "ESP8266 flash layout for --fs / --fs-image, e.g. 4M1M (see iotbench layouts)")
	f.StringVar(&partitions, "partitions", "", "ESP32: partition table for --fs / --fs-image (CSV or binary file, or a scheme name such as default); written at 0x8000 too")
	f.StringVar(&fsPartition, "fs-partition", "", "ESP32: label of the filesystem partition when the table has several")
	f.StringVar(&fsTime, "fs-time", "", "LittleFS: set every timestamp to this time (reproducible images)")
	return cmd
}

// flashInput is one ADDRESS FILE pair: one region, or several for an
// Intel HEX file (which carries its own addresses).
type flashInput struct {
	name    string
	hex     bool
	regions []flasher.Region
}

type flashInputs []flashInput

func (in flashInputs) regions() []flasher.Region {
	var out []flasher.Region
	for _, i := range in {
		out = append(out, i.regions...)
	}
	return out
}

// readFlashInputs reads ADDRESS FILE pairs. An Intel HEX file is split
// into its runs at their own addresses (esptool ignores the ADDRESS given
// with it); a file starting with ':' that is not valid HEX is data, as
// in esptool, unless it is named .hex. A .csv file is a partition table,
// converted to the binary form the bootloader reads.
func readFlashInputs(args []string) (flashInputs, error) {
	var out flashInputs
	for i := 0; i < len(args); i += 2 {
		addr, err := parseAddr(args[i])
		if err != nil {
			return nil, err
		}
		name := args[i+1]
		data, err := readInputFile(name)
		if err != nil {
			return nil, err
		}
		in := flashInput{name: name}
		switch {
		case ihex.Looks(data):
			segs, err := ihex.Parse(data)
			if err != nil {
				if strings.EqualFold(filepath.Ext(name), ".hex") {
					return nil, &flasher.InputError{Msg: fmt.Sprintf("%s: not valid Intel HEX: %v", name, err)}
				}
				in.regions = []flasher.Region{{Addr: addr, Data: data, Name: name}}
				break
			}
			in.hex = true
			for _, sg := range segs {
				in.regions = append(in.regions, flasher.Region{Addr: sg.Addr, Data: sg.Data, Name: fmt.Sprintf("%s (0x%X..0x%X)", name, sg.Addr, uint64(sg.Addr)+uint64(len(sg.Data))-1)})
			}
		case strings.EqualFold(filepath.Ext(name), ".csv"):
			pt, err := layout.ParseCSV(bytes.NewReader(data))
			if err != nil {
				return nil, &flasher.InputError{Msg: fmt.Sprintf("%s: %v", name, err)}
			}
			bin, err := pt.Binary()
			if err != nil {
				return nil, &flasher.InputError{Msg: fmt.Sprintf("%s: %v", name, err)}
			}
			in.regions = []flasher.Region{{Addr: addr, Data: bin, Name: name}}
		default:
			in.regions = []flasher.Region{{Addr: addr, Data: data, Name: name}}
		}
		out = append(out, in)
	}
	return out, nil
}

// diffWithFiles zips --diff-with with the inputs, as esptool 5 does:
// entry i is what flash held where input i goes; "skip" means nothing is
// known there.
func diffWithFiles(files []string, in flashInputs) (map[uint32][]byte, error) {
	if len(files) == 0 {
		return nil, nil
	}
	if len(files) > len(in) {
		return nil, usagef("--diff-with names %d files for %d ADDRESS FILE pairs: give at most one per pair ('skip' for none)", len(files), len(in))
	}
	out := map[uint32][]byte{}
	for i, f := range files {
		if f == "skip" {
			continue
		}
		if in[i].hex {
			return nil, usagef("--diff-with %s: %s is an Intel HEX file with its own addresses; compare it with 'skip' (fast reflash still asks the chip)", f, in[i].name)
		}
		old, err := readInputFile(f)
		if err != nil {
			return nil, err
		}
		out[in[i].regions[0].Addr] = old
	}
	return out, nil
}

func coversAddr(regions []flasher.Region, addr uint32) bool {
	for _, r := range regions {
		if r.Addr <= addr && uint64(addr) < uint64(r.Addr)+uint64(len(r.Data)) {
			return true
		}
	}
	return false
}

// checkPartitionRegions checks a binary partition table written at the
// chip's table offset before anything is written: a table whose MD5 entry
// does not match, or whose partitions overlap or run past the flash, would
// leave a board the bootloader cannot start.
func checkPartitionRegions(chip *target.Chip, regions []flasher.Region, flashSize int) error {
	if chip.PartitionTableOffset == 0 {
		return nil
	}
	for _, r := range regions {
		if r.Addr != chip.PartitionTableOffset || len(r.Data) < 2 || r.Data[0] != 0xAA || r.Data[1] != 0x50 {
			continue
		}
		pt, err := layout.ParseBinary(r.Data)
		if err == nil {
			err = pt.Validate(flashSize)
		}
		if err != nil {
			return &flasher.InputError{Msg: fmt.Sprintf("%s is not a partition table the bootloader accepts: %v — regenerate it (iotbench partitions TABLE.csv -o %s)", r.Name, err, filepath.Base(r.Name))}
		}
	}
	return nil
}

// esp32FSRegion builds (or checks) the filesystem image for the chosen
// partition of an ESP32 table.
func esp32FSRegion(pt *layout.PartitionTable, src, label, dir, imagePath, kind, fixed string) (*flasher.Region, error) {
	in := place.FS{Dir: dir, Name: imagePath, Label: label}
	if imagePath != "" {
		b, err := readInputFile(imagePath)
		if err != nil {
			return nil, err
		}
		in.Dir, in.Image = "", b
	} else {
		k, err := parseFSKind(kind)
		if err != nil {
			return nil, err
		}
		ft, err := parseFixedTime(fixed)
		if err != nil {
			return nil, err
		}
		in.Kind, in.Options.FixedTime = k, ft
	}
	im, err := place.Filesystem(pt, src, in)
	if err != nil {
		return nil, &flasher.InputError{Msg: err.Error()}
	}
	name := fmt.Sprintf("%s (%s) for %s", imagePath, im.Kind, im.Geometry.Name)
	if im.Files >= 0 {
		name = fmt.Sprintf("%s image of %s (%d files) for %s", im.Kind, dir, im.Files, im.Geometry.Name)
	}
	return &flasher.Region{Addr: im.Geometry.Offset, Data: im.Data, Name: name}, nil
}

// fsRegionFor turns --fs/--fs-image and --layout into a region to write,
// and the flash size the layout needs.
func fsRegionFor(dir, imagePath, kind, layoutName, fixed string) (*flasher.Region, int, error) {
	if dir == "" && imagePath == "" {
		if layoutName != "" {
			return nil, 0, usagef("--layout goes with --fs DIR or --fs-image FILE")
		}
		return nil, 0, nil
	}
	if dir != "" && imagePath != "" {
		return nil, 0, usagef("--fs and --fs-image contradict each other: give one")
	}
	if layoutName == "" {
		return nil, 0, usagef("say which flash layout the filesystem is for with --layout (e.g. 4M1M; see iotbench layouts)")
	}
	l, err := layout.ESP8266(layoutName)
	if err != nil {
		return nil, 0, &flasher.InputError{Msg: err.Error()}
	}
	g, err := fsimage.ForESP8266(l)
	if err != nil {
		return nil, 0, &flasher.InputError{Msg: err.Error()}
	}
	if imagePath != "" {
		b, err := readInputFile(imagePath)
		if err != nil {
			return nil, 0, err
		}
		im, err := fsimage.Open(b, "")
		if err != nil {
			return nil, 0, &flasher.InputError{Msg: fmt.Sprintf("%s: %v", imagePath, err)}
		}
		if err := layout.CheckFSImage(len(b), im.BlockSize, l); err != nil {
			return nil, 0, &flasher.InputError{Msg: fmt.Sprintf("%s: %v", imagePath, err)}
		}
		return &flasher.Region{Addr: g.Offset, Data: b, Name: fmt.Sprintf("%s (%s) for %s", imagePath, im.Kind, g.Name)}, l.FlashSize, nil
	}
	k, err := parseFSKind(kind)
	if err != nil {
		return nil, 0, err
	}
	ft, err := parseFixedTime(fixed)
	if err != nil {
		return nil, 0, err
	}
	tree, img, err := buildFS(k, dir, false, g, ft)
	if err != nil {
		return nil, 0, err
	}
	return &flasher.Region{Addr: g.Offset, Data: img, Name: fmt.Sprintf("%s image of %s (%d files) for %s", k, dir, len(tree.Files), g.Name)}, l.FlashSize, nil
}

func (a *app) readFlashCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "read-flash ADDRESS SIZE FILE",
		Aliases: []string{"read_flash"},
		Short:   "Read flash contents to a file (SIZE may be 'all')",
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := parseAddr(args[0])
			if err != nil {
				return err
			}
			s, err := a.connect(cmd.Context(), false)
			if err != nil {
				return err
			}
			var n int
			if args[1] == "all" || args[1] == "ALL" {
				fs, err := s.loader.FlashSize()
				if err != nil {
					s.close()
					return err
				}
				n = fs - int(addr)
			} else {
				v, err := parseNumber(args[1])
				if err != nil {
					s.close()
					return usagef("bad size %v", err)
				}
				n = int(v)
			}
			data, err := s.loader.ReadFlash(cmd.Context(), addr, n)
			if err != nil {
				s.close()
				return err
			}
			if err := writeFileAtomic(args[2], data, 0o644); err != nil {
				s.close()
				return &flasher.InputError{Msg: fmt.Sprintf("writing %s: %v", args[2], err)}
			}
			a.out.say("Read %d bytes at 0x%08x into %s.", len(data), addr, args[2])
			a.out.result(map[string]any{"addr": addr, "size": len(data), "file": args[2]})
			return s.finish()
		},
	}
}

// writeFileAtomic never leaves a half-written file under the final name.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".partial"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

func (a *app) eraseFlashCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "erase-flash",
		Aliases: []string{"erase_flash"},
		Short:   "Erase the whole flash",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.connect(cmd.Context(), false)
			if err != nil {
				return err
			}
			// The ledger forgets first: an erase cut short changed flash too.
			if led := a.openLedger(); led != nil {
				s.loader.ForgetLedger(led, 0, 1<<32-1)
			}
			if err := s.loader.EraseFlash(cmd.Context()); err != nil {
				s.close()
				return err
			}
			a.out.say("Flash erased.")
			a.out.result(map[string]any{"erased": "all"})
			return s.finish()
		},
	}
}

func (a *app) eraseRegionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "erase-region ADDRESS SIZE",
		Aliases: []string{"erase_region"},
		Short:   "Erase a region of flash (both multiples of 0x1000)",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := parseAddr(args[0])
			if err != nil {
				return err
			}
			n, err := parseNumber(args[1])
			if err != nil {
				return usagef("bad size %v", err)
			}
			if addr%flasher.SectorSize != 0 || n%flasher.SectorSize != 0 || n == 0 {
				return &flasher.InputError{Msg: fmt.Sprintf("erase-region needs an address and a size that are multiples of 0x1000 (got 0x%X, 0x%X): flash erases whole 4 KiB sectors", addr, n)}
			}
			s, err := a.connect(cmd.Context(), false)
			if err != nil {
				return err
			}
			if led := a.openLedger(); led != nil {
				s.loader.ForgetLedger(led, addr, int(n))
			}
			if err := s.loader.EraseRegion(cmd.Context(), addr, int(n)); err != nil {
				s.close()
				return err
			}
			a.out.say("Erased 0x%08x..0x%08x.", addr, uint64(addr)+n-1)
			a.out.result(map[string]any{"addr": addr, "size": n})
			return s.finish()
		},
	}
}

// flashEvent renders what fast reflash reports (comparison, sectors
// written or skipped) and hands every other event to the shared
// renderer; JSON output gets every event as it is.
func (a *app) flashEvent(e flasher.Event) {
	if !a.jsonOut {
		switch e := e.(type) {
		case flasher.PhaseEvent:
			if e.Phase == "compare" {
				a.out.say("Comparing 0x%08x..0x%08x with flash (%s)...", e.Addr, uint64(e.Addr)+uint64(e.Size)-1, e.Detail)
				return
			}
		case flasher.DiffEvent:
			runs := make([]string, 0, len(e.Write))
			for _, r := range e.Write {
				runs = append(runs, r.String())
			}
			what := "nothing to write"
			if len(runs) > 0 {
				what = "writing " + strings.Join(runs, ", ")
			}
			a.out.say("%d of %d sectors differ (%s, %d MD5 reads): %s", e.Changed, e.Sectors, e.Basis, e.Probes, what)
			return
		case flasher.WrittenEvent:
			switch {
			case e.Skipped:
				a.out.say("Skipped %d bytes at 0x%08x: already in flash (%d sectors). Hash of data verified (%s %s).", e.Size, e.Addr, e.SectorsSkipped, e.VerifiedBy, e.MD5)
				return
			case e.SectorsWritten > 0 && e.SectorsSkipped > 0:
				comp := ""
				if e.Compressed > 0 {
					comp = fmt.Sprintf(", %d bytes compressed", e.Compressed)
				}
				a.out.say("Wrote %d of %d sectors of %d bytes at 0x%08x%s in %.1f s. Hash of data verified (%s %s).", e.SectorsWritten, e.SectorsWritten+e.SectorsSkipped, e.Size, e.Addr, comp, e.Elapsed.Seconds(), e.VerifiedBy, e.MD5)
				return
			}
		}
	}
	a.out.event(e)
}
