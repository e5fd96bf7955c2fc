package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/iotbench/iotbench/flasher/layout"
)

func (a *app) layoutsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "layouts",
		Short: "List flash layouts: ESP8266 Arduino layouts and ESP32 default partition tables",
		Long: `Show where the application and the filesystem live for each ESP8266 Arduino
flash layout (the "Flash Size" menu: 4M1M = 4 MB flash with a 1 MB
filesystem) and each ESP32 default partition table. A filesystem image must
match its layout's size and block size to mount; iotbench fs build makes
one that does.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tables := layout.Tables()
			if a.jsonOut {
				for _, t := range tables {
					a.out.jsonLine("layouts", t)
				}
				return nil
			}
			a.printTables(tables)
			return nil
		},
	}
}

// printTables prints tables as aligned text, a blank line between them.
func (a *app) printTables(tables []layout.Table) {
	for i, t := range tables {
		if i > 0 {
			fmt.Fprintln(a.stdout)
		}
		fmt.Fprintln(a.stdout, t.Title)
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(t.Header, "\t"))
		for _, r := range t.Rows {
			fmt.Fprintln(tw, strings.Join(r, "\t"))
		}
		tw.Flush()
	}
}
