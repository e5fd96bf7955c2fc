package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/layout"
	"github.com/iotbench/iotbench/flasher/place"
)

func (a *app) partitionsCommand() *cobra.Command {
	var out, format string
	var offset, flashSize string
	cmd := &cobra.Command{
		Use:   "partitions [FILE]",
		Short: "Show an ESP32 partition table from a file (CSV or binary) or from the chip; convert it",
		Long: `Show an ESP32 partition table: from FILE (a gen_esp32part.py CSV or the
binary table), or, without FILE, the one on the chip at 0x8000. The table
is checked as the bootloader and ESP-IDF's tools check it: the MD5 entry,
alignment, overlaps, and (with --flash-size, or on the chip) the flash end.

-o OUT writes the table as binary (OUT ending in .bin) or CSV (.csv), so
the command also converts between the two and backs up a board's table.

  iotbench partitions partitions.csv
  iotbench partitions partitions.csv -o partitions.bin
  iotbench -p /dev/ttyUSB0 partitions -o backup.csv
  iotbench -p /dev/ttyUSB0 partitions write partitions.csv`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var pt *layout.PartitionTable
			var src string
			if len(args) == 1 {
				size := 0
				if flashSize != "" {
					n, err := parseNumber(flashSize)
					if err != nil {
						return usagef("--flash-size: %v", err)
					}
					size = int(n)
				}
				var err error
				if pt, err = partitionFile(args[0], size); err != nil {
					return err
				}
				src = args[0]
			} else {
				off, err := parseAddr(offset)
				if err != nil {
					return err
				}
				s, err := a.connect(cmd.Context(), false)
				if err != nil {
					return err
				}
				if off == 0 {
					off = s.loader.Chip().PartitionTableOffset
				}
				if pt, err = readChipPartitions(cmd.Context(), s, off); err != nil {
					s.close()
					return err
				}
				src = fmt.Sprintf("the chip at 0x%X", off)
				if err := s.finish(); err != nil {
					return err
				}
			}
			if out != "" {
				if err := writePartitionFile(pt, out, format); err != nil {
					return err
				}
				a.out.say("Wrote %s.", out)
			}
			return a.showPartitions(pt, src)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the table to this file: binary (.bin) or CSV (.csv)")
	cmd.Flags().StringVar(&format, "format", "", "format of -o when its name does not say: bin or csv")
	cmd.Flags().StringVar(&offset, "offset", "0", "where the table is on the chip (0 = the chip's default, 0x8000)")
	cmd.Flags().StringVar(&flashSize, "flash-size", "", "check the table against this flash size (FILE only; the chip's own size otherwise)")
	cmd.AddCommand(a.partitionsWriteCommand())
	return cmd
}

func (a *app) partitionsWriteCommand() *cobra.Command {
	var noDiff bool
	cmd := &cobra.Command{
		Use:   "write FILE",
		Short: "Write a partition table (CSV or binary) to the chip at 0x8000 and read it back",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Check the file alone first, then against the board's flash.
			if _, err := partitionFile(args[0], 0); err != nil {
				return err
			}
			s, err := a.connect(cmd.Context(), false)
			if err != nil {
				return err
			}
			fail := func(err error) error { s.close(); return err }
			chip := s.loader.Chip()
			if chip.PartitionTableOffset == 0 {
				return fail(&flasher.InputError{Msg: fmt.Sprintf("the %s has no partition table (its flash layout is fixed by the firmware): see iotbench layouts", chip.Name)})
			}
			size, err := s.loader.FlashSize()
			if err != nil {
				return fail(err)
			}
			pt, err := partitionFile(args[0], size)
			if err != nil {
				return fail(err)
			}
			bin, err := pt.Binary()
			if err != nil {
				return fail(&flasher.InputError{Msg: err.Error()})
			}
			o := flasher.WriteOptions{Ledger: a.openLedger()}
			if !noDiff {
				o.Diff = &flasher.DiffOptions{}
			}
			region := flasher.Region{Addr: chip.PartitionTableOffset, Data: bin, Name: args[0]}
			if err := s.loader.WriteFlash(cmd.Context(), []flasher.Region{region}, o); err != nil {
				return fail(err)
			}
			back, err := readChipPartitions(cmd.Context(), s, chip.PartitionTableOffset)
			if err != nil {
				return fail(err)
			}
			if b2, _ := back.Binary(); !bytes.Equal(b2, bin) {
				return fail(&flasher.VerifyError{Addr: chip.PartitionTableOffset, Size: len(bin), Method: "partition table read back", Want: "the table written", Got: "another table"})
			}
			if err := a.showPartitions(back, fmt.Sprintf("the chip at 0x%X, read back", chip.PartitionTableOffset)); err != nil {
				return fail(err)
			}
			return s.finish()
		},
	}
	cmd.Flags().BoolVar(&noDiff, "no-diff", false, "write the table even if the chip already holds it")
	return cmd
}

// partitionFile reads a table file (CSV or binary) and validates it,
// against flashSize when known (0 = not checked).
func partitionFile(path string, flashSize int) (*layout.PartitionTable, error) {
	b, err := readInputFile(path)
	if err != nil {
		return nil, err
	}
	pt, err := layout.ParseChecked(b, path, flashSize)
	if err != nil {
		return nil, &flasher.InputError{Msg: err.Error()}
	}
	return pt, nil
}

// readChipPartitions reads the binary table the bootloader would read.
func readChipPartitions(ctx context.Context, s *session, off uint32) (*layout.PartitionTable, error) {
	b, err := s.loader.ReadFlash(ctx, off, layout.PartitionTableMaxLen)
	if err != nil {
		return nil, err
	}
	pt, err := place.ChipTable(b, off)
	if err != nil {
		return nil, &flasher.InputError{Msg: err.Error() + "; write a good one with iotbench partitions write TABLE.csv"}
	}
	if pt == nil {
		return nil, &flasher.InputError{Msg: fmt.Sprintf("no partition table on the chip at 0x%X (the flash there is erased): write one with iotbench partitions write TABLE.csv, or pass --partitions", off)}
	}
	return pt, nil
}

// partitionTable finds the table a filesystem goes by: --partitions (a
// file, or an arduino-esp32 scheme name for the chip's flash size), else
// a table among the regions being written, else the chip's own. It is
// validated against the flash size; src says where it came from.
func (a *app) partitionTable(ctx context.Context, s *session, spec string, regions []flasher.Region, flashSize int) (*layout.PartitionTable, string, error) {
	chip := s.loader.Chip()
	if spec != "" {
		pt, from, err := layout.LoadTable(spec, flashSize)
		if err != nil {
			return nil, "", &flasher.InputError{Msg: err.Error()}
		}
		return pt, from, nil
	}
	for _, r := range regions {
		if r.Addr == chip.PartitionTableOffset {
			pt, err := layout.Parse(r.Data)
			if err == nil {
				err = pt.Validate(flashSize)
			}
			if err != nil {
				return nil, "", &flasher.InputError{Msg: fmt.Sprintf("%s: %v", r.Name, err)}
			}
			return pt, r.Name, nil
		}
	}
	pt, err := readChipPartitions(ctx, s, chip.PartitionTableOffset)
	if err != nil {
		return nil, "", err
	}
	if err := pt.Validate(flashSize); err != nil {
		return nil, "", &flasher.InputError{Msg: fmt.Sprintf("the partition table on the chip: %v", err)}
	}
	return pt, fmt.Sprintf("the chip at 0x%X", chip.PartitionTableOffset), nil
}

func writePartitionFile(pt *layout.PartitionTable, path, format string) error {
	if format == "" {
		format = strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	}
	var data []byte
	switch format {
	case "bin":
		b, err := pt.Binary()
		if err != nil {
			return &flasher.InputError{Msg: err.Error()}
		}
		data = b
	case "csv":
		data = []byte(pt.CSV())
	default:
		return usagef("-o %s: say the format with a .bin or .csv name, or --format bin|csv", path)
	}
	if err := writeFileAtomic(path, data, 0o644); err != nil {
		return &flasher.InputError{Msg: fmt.Sprintf("writing %s: %v", path, err)}
	}
	return nil
}

func (a *app) showPartitions(pt *layout.PartitionTable, src string) error {
	if a.jsonOut {
		for _, p := range pt.Partitions {
			a.out.jsonLine("partition", p)
		}
		return a.out.result(map[string]any{"source": src, "partitions": len(pt.Partitions), "fs": fsLabel(pt)})
	}
	t := pt.Table()
	t.Title = "Partition table (" + src + ")"
	a.printTables([]layout.Table{t})
	return nil
}

func fsLabel(pt *layout.PartitionTable) string {
	if p, err := pt.FS(); err == nil {
		return p.Label
	}
	return ""
}
