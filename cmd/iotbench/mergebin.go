package main

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/ihex"
	"github.com/iotbench/iotbench/flasher/image"
)

func (a *app) mergeBinCommand() *cobra.Command {
	var out, format, fill, targetOffset string
	var mode, size, freq string
	cmd := &cobra.Command{
		Use:     "merge-bin -o OUT [flags] ADDRESS FILE [ADDRESS FILE...]",
		Aliases: []string{"merge_bin"},
		Short:   "Merge files into one image to flash at one offset (raw or Intel HEX), as esptool merge_bin",
		Long: `Merge binaries into one file, as esptool's merge_bin does:

  raw (default)  one binary starting at --target-offset; gaps between the
                 files are 0xFF (erased flash); --fill-flash-size pads the
                 end with 0xFF up to that flash size
  hex            Intel HEX records of the files at their addresses (gaps
                 are simply not there)

Intel HEX inputs bring their own addresses. --flash-mode/--flash-size/
--flash-freq rewrite the header of the image at the chip's bootloader
offset (and its SHA-256), as write-flash does; they need --chip.

  iotbench --chip esp32c3 merge-bin -o merged.bin 0x0 bootloader.bin 0x8000 partitions.bin 0x10000 app.bin
  iotbench merge-bin --format hex -o merged.hex 0x1000 bootloader.bin 0x10000 app.bin`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 || len(args)%2 != 0 {
				return usagef("merge-bin needs ADDRESS FILE pairs")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("say where the merged file goes with -o FILE")
			}
			start, err := parseAddr(targetOffset)
			if err != nil {
				return err
			}
			in, err := readFlashInputs(args)
			if err != nil {
				return err
			}
			regions := in.regions()
			if err := mergeOverlaps(regions); err != nil {
				return err
			}
			keep := orKeepFlag(mode) == image.Keep && orKeepFlag(size) == image.Keep && orKeepFlag(freq) == image.Keep
			chip := a.chip
			if !keep {
				if chip == "" || chip == "auto" {
					return usagef("rewriting header bytes (--flash-mode/--flash-size/--flash-freq) needs the chip: pass --chip (e.g. --chip esp32c3)")
				}
				if strings.EqualFold(size, image.Detect) {
					return usagef("--flash-size detect needs a board; merge-bin has none: give a size (4MB) or keep")
				}
				c, err := image.CanonicalChip(chip)
				if err != nil {
					return usagef("%v", err)
				}
				for i, r := range regions {
					patched, changed, warnings, err := image.PatchFlashParams(r.Data, c, r.Addr, mode, size, freq, "")
					if err != nil {
						return &flasher.InputError{Msg: fmt.Sprintf("%s: %v", r.Name, err)}
					}
					for _, w := range warnings {
						a.out.say("Warning: %s", w)
					}
					if changed {
						a.out.say("Flash params set to 0x%02X%02X in %s", patched[2], patched[3], r.Name)
					}
					regions[i].Data = patched
				}
			}
			var data []byte
			switch format {
			case "raw":
				if data, err = mergeRaw(regions, start, fill); err != nil {
					return err
				}
			case "hex":
				if fill != "" || start != 0 {
					return usagef("--fill-flash-size and --target-offset are for --format raw (a HEX file carries addresses and no padding)")
				}
				var buf bytes.Buffer
				segs := make([]ihex.Segment, len(regions))
				for i, r := range regions {
					segs[i] = ihex.Segment{Addr: r.Addr, Data: r.Data}
				}
				if err := ihex.Write(&buf, segs); err != nil {
					return &flasher.InputError{Msg: err.Error()}
				}
				data = buf.Bytes()
			default:
				return usagef("--format %q: use raw or hex", format)
			}
			if err := writeFileAtomic(out, data, 0o644); err != nil {
				return &flasher.InputError{Msg: fmt.Sprintf("writing %s: %v", out, err)}
			}
			for _, r := range regions {
				a.out.say("  0x%08x  %8d bytes  %s", r.Addr, len(r.Data), r.Name)
			}
			if format == "raw" {
				a.out.say("Wrote 0x%x bytes to %s, ready to flash to offset 0x%x.", len(data), out, start)
			} else {
				a.out.say("Wrote %d bytes of Intel HEX to %s.", len(data), out)
			}
			a.out.result(map[string]any{"output": out, "format": format, "size": len(data), "target_offset": start, "files": len(regions)})
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&out, "output", "o", "", "merged file to write")
	f.StringVarP(&format, "format", "f", "raw", "output format: raw or hex")
	f.StringVar(&fill, "fill-flash-size", "", "raw: pad the output with 0xFF to this flash size (e.g. 4MB)")
	f.StringVar(&targetOffset, "target-offset", "0x0", "raw: the flash offset the output file starts at")
	f.StringVar(&mode, "flash-mode", "keep", "rewrite the bootloader image's SPI mode: keep, qio, qout, dio, dout")
	f.StringVar(&size, "flash-size", "keep", "rewrite the bootloader image's flash size: keep, 1MB, 2MB, 4MB, …")
	f.StringVar(&freq, "flash-freq", "keep", "rewrite the bootloader image's flash frequency: keep, 40m, 26m, 20m, 80m")
	return cmd
}

func orKeepFlag(s string) string {
	if strings.TrimSpace(s) == "" || strings.EqualFold(s, image.Keep) {
		return image.Keep
	}
	return s
}

// mergeOverlaps refuses files that share a flash sector, as esptool's
// AddrFilenamePairAction does: written one after the other, the second
// one's erase would wipe the end of the first.
func mergeOverlaps(regions []flasher.Region) error {
	sorted := append([]flasher.Region(nil), regions...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Addr < sorted[j].Addr })
	var end uint64
	for i, r := range sorted {
		start := uint64(r.Addr) &^ (flasher.SectorSize - 1)
		if i > 0 && start < end {
			return &flasher.InputError{Msg: fmt.Sprintf("%s at 0x%X overlaps %s (which ends in the sector before 0x%X): move one of them", r.Name, r.Addr, sorted[i-1].Name, end)}
		}
		end = (uint64(r.Addr) + uint64(len(r.Data)) + flasher.SectorSize - 1) &^ (flasher.SectorSize - 1)
	}
	return nil
}

// mergeRaw lays the regions out from start, 0xFF between them, padded to
// the fill size (a flash size counted from address 0, as esptool does).
func mergeRaw(regions []flasher.Region, start uint32, fill string) ([]byte, error) {
	sorted := append([]flasher.Region(nil), regions...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Addr < sorted[j].Addr })
	if sorted[0].Addr < start {
		return nil, &flasher.InputError{Msg: fmt.Sprintf("%s is at 0x%X, before --target-offset 0x%X: lower the target offset", sorted[0].Name, sorted[0].Addr, start)}
	}
	last := sorted[len(sorted)-1]
	end := uint64(last.Addr) + uint64(len(last.Data))
	total := end - uint64(start)
	if fill != "" {
		n, err := image.FlashSizeBytes(fill)
		if err != nil {
			return nil, usagef("--fill-flash-size: %v", err)
		}
		if uint64(n) < end {
			return nil, &flasher.InputError{Msg: fmt.Sprintf("the files end at 0x%X, beyond --fill-flash-size %s (0x%X): use a larger size", end, fill, n)}
		}
		total = uint64(n) - uint64(start)
	}
	if total > 256<<20 {
		return nil, &flasher.InputError{Msg: fmt.Sprintf("the merged image would be %d MB: no ESP flash is that large (check the addresses)", total>>20)}
	}
	out := bytes.Repeat([]byte{0xFF}, int(total))
	for _, r := range sorted {
		copy(out[r.Addr-start:], r.Data)
	}
	return out, nil
}
