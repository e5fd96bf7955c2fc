package main

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/image"
)

func (a *app) imageInfoCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "image-info FILE",
		Aliases: []string{"image_info"},
		Short:   "Show what a firmware image contains (header, segments, checksums)",
		Long: `Parse an ESP firmware image (ESP8266 v1/v2, ESP32-family) and print its
header, segments, checksum and SHA-256 digest, and whether they are valid.
With --chip auto the chip is guessed from the image (an ESP32-family
extended header names its chip); pass --chip to be sure. No board needed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readInputFile(args[0])
			if err != nil {
				return err
			}
			chip := a.chip
			if chip == "auto" || chip == "" {
				chip = guessImageChip(data)
			}
			chip, err = image.CanonicalChip(chip)
			if err != nil {
				return usagef("%v", err)
			}
			im, err := image.Parse(data, chip)
			if err != nil {
				return &flasher.InputError{Msg: fmt.Sprintf("%s: %v", args[0], err)}
			}
			if a.jsonOut {
				return a.out.result(im)
			}
			var buf bytes.Buffer
			fmt.Fprintf(&buf, "File %s (%d bytes), read as an %s image\n", args[0], len(data), chip)
			if err := im.Describe(&buf); err != nil {
				return err
			}
			_, err = a.stdout.Write(buf.Bytes())
			return err
		},
	}
}

// guessImageChip: an ESP32-family image carries its chip ID in extended
// header bytes 12–13 (esp-serial-protocol.md §14.4); anything else is read
// as an ESP8266 image.
func guessImageChip(data []byte) string {
	if len(data) >= 24 && data[0] == image.Magic {
		if name, ok := image.ChipForImageID(binary.LittleEndian.Uint16(data[12:14])); ok && data[8] == image.WPPinDisabled {
			return name
		}
	}
	return image.ChipESP8266
}
