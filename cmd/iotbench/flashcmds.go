package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/fsimage"
	"github.com/iotbench/iotbench/flasher/layout"
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
	var eraseAll, compress, noCompress, verify, noVerify bool
	var fsDir, fsKind, fsImage, fsLayout, fsTime string
	cmd := &cobra.Command{
		Use:     "write-flash [flags] ADDRESS FILE [ADDRESS FILE...]",
		Aliases: []string{"write_flash"},
		Short:   "Write files to flash at the given addresses",
		Long: `Write one or more files to flash. Addresses must be multiples of 0x1000
(flash erases whole 4 KiB sectors); files must not overlap or run past the
end of the flash.

With a flasher stub (--stub-file, or one found in an installed esptool) data
is sent compressed at --baud and verified with MD5. Without one the ESP8266
ROM is used: 115200 baud, 1 KiB packets, no compression, and no MD5 — add
--verify to read the data back through the SPI registers (slow).

An image written at the bootloader offset (0x0 on the ESP8266) gets header
bytes 2–3 rewritten when --flash-mode/--flash-size/--flash-freq say so,
exactly as esptool does.

--fs DIR --layout NAME builds a filesystem image from DIR for the layout
and writes it at the layout's filesystem offset (what PlatformIO's uploadfs
does); --fs-image FILE --layout NAME writes a prepared image there after
checking it matches the layout.

Examples:
  iotbench write-flash 0x0 firmware.bin
  iotbench -b 921600 write-flash --flash-size detect 0x0 app.bin 0x300000 fs.bin
  iotbench write-flash --fs data/ --layout 4M1M 0x0 firmware.bin`,
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
			var regions []flasher.Region
			for i := 0; i < len(args); i += 2 {
				addr, err := parseAddr(args[i])
				if err != nil {
					return err
				}
				data, err := readInputFile(args[i+1])
				if err != nil {
					return err
				}
				regions = append(regions, flasher.Region{Addr: addr, Data: data, Name: args[i+1]})
			}
			fsRegion, flashNeed, err := fsRegionFor(fsDir, fsImage, fsKind, fsLayout, fsTime)
			if err != nil {
				return err
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
			if flashNeed > 0 {
				if have, err := s.loader.FlashSize(); err == nil && have < flashNeed {
					s.close()
					var fit []string
					for _, l := range layout.ESP8266ForFlash(have) {
						if l.HasFS() {
							fit = append(fit, l.Name)
						}
					}
					return &flasher.InputError{Msg: fmt.Sprintf("layout %s needs %s of flash but this board has %s: use one of %s", fsLayout, target.SizeName(flashNeed), target.SizeName(have), strings.Join(fit, ", "))}
				}
			}
			o := flasher.WriteOptions{FlashMode: mode, FlashSize: size, FlashFreq: freq, EraseAll: eraseAll}
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
				s.close()
				return err
			}
			return s.finish()
		},
	}
	f := cmd.Flags()
	f.StringVar(&mode, "flash-mode", "keep", "rewrite the image's SPI mode: keep, qio, qout, dio, dout")
	f.StringVar(&size, "flash-size", "keep", "rewrite the image's flash size: keep, detect, 1MB, 2MB, 4MB, …")
	f.StringVar(&freq, "flash-freq", "keep", "rewrite the image's flash frequency: keep, 40m, 26m, 20m, 80m")
	f.BoolVarP(&eraseAll, "erase-all", "e", false, "erase the whole flash before writing")
	f.BoolVarP(&compress, "compress", "z", false, "compress data in transfer (default with a stub)")
	f.BoolVarP(&noCompress, "no-compress", "u", false, "do not compress data in transfer")
	f.BoolVar(&verify, "verify", false, "also verify ESP8266 ROM-mode writes by reading flash back (slow); stub writes are always MD5-verified")
	f.BoolVar(&noVerify, "no-verify", false, "skip verification")
	f.StringVar(&fsDir, "fs", "", "build a filesystem image from this folder and write it at the --layout's filesystem offset")
	f.StringVar(&fsKind, "fs-type", "littlefs", "filesystem for --fs: littlefs or spiffs")
	f.StringVar(&fsImage, "fs-image", "", "write this filesystem image at the --layout's filesystem offset (checked against the layout)")
	f.StringVar(&fsLayout, "layout", "", "ESP8266 flash layout for --fs / --fs-image, e.g. 4M1M (see iotbench layouts)")
	f.StringVar(&fsTime, "fs-time", "", "LittleFS: set every timestamp to this time (reproducible images)")
	return cmd
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
