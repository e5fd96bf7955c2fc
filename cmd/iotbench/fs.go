package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/fsimage"
	"github.com/iotbench/iotbench/flasher/fstree"
	"github.com/iotbench/iotbench/flasher/layout"
)

func (a *app) fsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fs",
		Short: "Build, list, extract and check SPIFFS / LittleFS filesystem images",
		Long: `Filesystem images hold what the firmware reads from flash (config.json,
certificates). An image only mounts if its size and block size match the
board's flash layout, so iotbench builds them from the layout:

  iotbench fs build --fs littlefs --layout 4M1M data/ -o fs.bin
  iotbench fs ls fs.bin              # kind and parameters are detected
  iotbench fs extract fs.bin out/
  iotbench fs check fs.bin
  iotbench write-flash --fs data/ --layout 4M1M    # build and flash in one go

Files go into the image in byte-wise sorted, depth-first order (what
mkspiffs and mklittlefs produce when their folder is read in that order);
.git, .gitignore, .gitmodules and .DS_Store are left out unless --all.`,
	}
	cmd.AddCommand(a.fsBuildCommand(), a.fsLsCommand(), a.fsExtractCommand(), a.fsCheckCommand())
	return cmd
}

// fsTarget is what decides an image's geometry: an ESP8266 layout, or an
// ESP32 partition table.
type fsTarget struct {
	layout, partitions, scheme, flashSize string
}

func (t *fsTarget) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&t.layout, "layout", "", "ESP8266 flash layout, e.g. 4M1M, 1M64 (see iotbench layouts)")
	f.StringVar(&t.partitions, "partitions", "", "ESP32: partition table (CSV or binary) whose spiffs partition to fill")
	f.StringVar(&t.scheme, "scheme", "", "ESP32: arduino-esp32 partition scheme (default, min_spiffs, no_ota, huge_app, …)")
	f.StringVar(&t.flashSize, "flash-size", "4MB", "ESP32: flash size for --scheme")
}

func (t *fsTarget) geometry() (fsimage.Geometry, error) {
	n := 0
	for _, s := range []string{t.layout, t.partitions, t.scheme} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return fsimage.Geometry{}, usagef("say where the filesystem goes with exactly one of --layout (ESP8266), --partitions or --scheme (ESP32); see iotbench layouts")
	}
	switch {
	case t.layout != "":
		l, err := layout.ESP8266(t.layout)
		if err != nil {
			return fsimage.Geometry{}, &flasher.InputError{Msg: err.Error()}
		}
		g, err := fsimage.ForESP8266(l)
		if err != nil {
			return g, &flasher.InputError{Msg: err.Error()}
		}
		return g, nil
	case t.partitions != "":
		b, err := readInputFile(t.partitions)
		if err != nil {
			return fsimage.Geometry{}, err
		}
		var pt *layout.PartitionTable
		if len(b) >= 2 && b[0] == 0xAA && b[1] == 0x50 {
			pt, err = layout.ParseBinary(b)
		} else {
			pt, err = layout.ParseCSV(strings.NewReader(string(b)))
		}
		if err != nil {
			return fsimage.Geometry{}, &flasher.InputError{Msg: fmt.Sprintf("%s: %v", t.partitions, err)}
		}
		g, err := fsimage.ForESP32(pt)
		if err != nil {
			return g, &flasher.InputError{Msg: err.Error()}
		}
		return g, nil
	}
	size, err := parseNumber(t.flashSize)
	if err != nil {
		return fsimage.Geometry{}, usagef("--flash-size: %v", err)
	}
	pt, err := layout.ESP32DefaultTable(t.scheme, int(size))
	if err != nil {
		return fsimage.Geometry{}, &flasher.InputError{Msg: err.Error()}
	}
	g, err := fsimage.ForESP32(pt)
	if err != nil {
		return g, &flasher.InputError{Msg: err.Error()}
	}
	return g, nil
}

func parseFSKind(s string) (layout.FSKind, error) {
	k, err := layout.ParseFSKind(s)
	if err != nil {
		return "", usagef("--fs: %v", err)
	}
	return k, nil
}

func parseFixedTime(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		t := time.Unix(n, 0).UTC()
		return &t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, usagef("--time %q: use seconds since 1970 or RFC 3339 (2024-01-02T15:04:05Z)", s)
	}
	return &t, nil
}

// buildFS reads dir and builds the image for g.
func buildFS(kind layout.FSKind, dir string, all bool, g fsimage.Geometry, fixed *time.Time) (*fstree.Tree, []byte, error) {
	var tree *fstree.Tree
	var err error
	if all {
		tree, err = fstree.FromDirAll(dir)
	} else {
		tree, err = fstree.FromDir(dir)
	}
	if err != nil {
		return nil, nil, &flasher.InputError{Msg: err.Error()}
	}
	img, err := fsimage.Build(kind, tree, g, fsimage.BuildOptions{FixedTime: fixed})
	if err != nil {
		return nil, nil, &flasher.InputError{Msg: fmt.Sprintf("building the %s image for %s: %v", kind, g.Name, err)}
	}
	return tree, img, nil
}

func (a *app) fsBuildCommand() *cobra.Command {
	var t fsTarget
	var kind, out, fixed string
	var all bool
	cmd := &cobra.Command{
		Use:   "build --fs spiffs|littlefs --layout NAME DIR -o IMAGE",
		Short: "Build a filesystem image from a folder, for a flash layout",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := parseFSKind(kind)
			if err != nil {
				return err
			}
			if out == "" {
				return usagef("say where the image goes with -o FILE")
			}
			g, err := t.geometry()
			if err != nil {
				return err
			}
			ft, err := parseFixedTime(fixed)
			if err != nil {
				return err
			}
			tree, img, err := buildFS(k, args[0], all, g, ft)
			if err != nil {
				return err
			}
			if err := writeFileAtomic(out, img, 0o644); err != nil {
				return &flasher.InputError{Msg: fmt.Sprintf("writing %s: %v", out, err)}
			}
			for _, f := range tree.Files {
				a.out.say("  %-40s %7d bytes", f.Path, len(f.Data))
			}
			a.out.say("Built %s: %s image of %d bytes (block %d) with %d files, %d bytes of content, for %s at 0x%X.", out, k, len(img), g.BlockSize, len(tree.Files), tree.Size(), g.Name, g.Offset)
			a.out.result(map[string]any{"image": out, "fs": k, "size": len(img), "block_size": g.BlockSize, "offset": g.Offset, "files": len(tree.Files)})
			return nil
		},
	}
	cmd.Flags().StringVar(&kind, "fs", "littlefs", "filesystem: littlefs (the ESP8266 core's default since 3.0) or spiffs")
	cmd.Flags().StringVarP(&out, "output", "o", "", "image file to write")
	cmd.Flags().StringVar(&fixed, "time", "", "LittleFS: set every timestamp to this time (reproducible images)")
	cmd.Flags().BoolVar(&all, "all", false, "include .git, .gitignore, .gitmodules and .DS_Store")
	t.flags(cmd)
	return cmd
}

func openFSImage(path, kind string) (*fsimage.Image, error) {
	b, err := readInputFile(path)
	if err != nil {
		return nil, err
	}
	var k layout.FSKind
	if kind != "" && kind != "auto" {
		if k, err = parseFSKind(kind); err != nil {
			return nil, err
		}
	}
	im, err := fsimage.Open(b, k)
	if err != nil {
		return nil, &flasher.InputError{Msg: fmt.Sprintf("%s: %v", path, err)}
	}
	return im, nil
}

// matchingLayouts names the ESP8266 layouts an image fits.
func matchingLayouts(im *fsimage.Image) []string {
	var names []string
	for _, l := range layout.ESP8266Layouts() {
		if l.HasFS() && layout.CheckFSImage(im.Size, im.BlockSize, l) == nil {
			names = append(names, l.Name)
		}
	}
	return names
}

func (a *app) fsLsCommand() *cobra.Command {
	var kind string
	cmd := &cobra.Command{
		Use:   "ls IMAGE",
		Short: "List a filesystem image (kind and parameters detected)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			im, err := openFSImage(args[0], kind)
			if err != nil {
				return err
			}
			layouts := matchingLayouts(im)
			if a.jsonOut {
				for _, e := range im.Entries {
					a.out.jsonLine("entry", e)
				}
				return a.out.result(map[string]any{"fs": im.Kind, "size": im.Size, "block_size": im.BlockSize, "page_size": im.PageSize, "layouts": layouts, "entries": len(im.Entries)})
			}
			fmt.Fprintf(a.stdout, "%s image, %d bytes, block %d", im.Kind, im.Size, im.BlockSize)
			if im.PageSize > 0 {
				fmt.Fprintf(a.stdout, ", page %d", im.PageSize)
			}
			if len(layouts) > 0 {
				fmt.Fprintf(a.stdout, " (fits ESP8266 layout %s)", strings.Join(layouts, ", "))
			}
			fmt.Fprintln(a.stdout)
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			for _, e := range im.Entries {
				if e.IsDir {
					fmt.Fprintf(tw, "%s/\t-\n", e.Path)
				} else {
					fmt.Fprintf(tw, "%s\t%d\n", e.Path, e.Size)
				}
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&kind, "fs", "auto", "filesystem kind: auto, spiffs, littlefs")
	return cmd
}

func (a *app) fsExtractCommand() *cobra.Command {
	var kind string
	cmd := &cobra.Command{
		Use:   "extract IMAGE DIR",
		Short: "Extract every file of an image into a folder",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			im, err := openFSImage(args[0], kind)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(args[1], 0o755); err != nil {
				return &flasher.InputError{Msg: err.Error()}
			}
			if err := im.Extract(args[1]); err != nil {
				return &flasher.InputError{Msg: fmt.Sprintf("extracting %s: %v", args[0], err)}
			}
			a.out.say("Extracted %d entries of %s into %s.", len(im.Entries), args[0], args[1])
			a.out.result(map[string]any{"entries": len(im.Entries), "dir": args[1]})
			return nil
		},
	}
	cmd.Flags().StringVar(&kind, "fs", "auto", "filesystem kind: auto, spiffs, littlefs")
	return cmd
}

func (a *app) fsCheckCommand() *cobra.Command {
	var kind string
	cmd := &cobra.Command{
		Use:   "check IMAGE",
		Short: "Check an image for damage (corrupt pages, bad CRCs, broken file chains)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			im, err := openFSImage(args[0], kind)
			if err != nil {
				return err
			}
			problems := im.Check()
			if a.jsonOut {
				a.out.result(map[string]any{"fs": im.Kind, "problems": problems})
			}
			for _, p := range problems {
				a.out.say("%s", p)
			}
			if len(problems) > 0 {
				return &flasher.InputError{Msg: fmt.Sprintf("%s: %d problem(s) found", args[0], len(problems))}
			}
			a.out.say("%s: %s image with %d entries, no problems found.", args[0], im.Kind, len(im.Entries))
			return nil
		},
	}
	cmd.Flags().StringVar(&kind, "fs", "auto", "filesystem kind: auto, spiffs, littlefs")
	return cmd
}
