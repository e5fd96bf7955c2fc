package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/iotbench/iotbench/serialmon"
)

func (a *app) portsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "ports",
		Short: "List serial ports and mark the ones that look like ESP boards",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ports, err := serialmon.ListPorts()
			if err != nil {
				return &portError{fmt.Errorf("listing serial ports: %w", err)}
			}
			if a.jsonOut {
				for _, p := range ports {
					a.out.jsonLine("port", p)
				}
				return nil
			}
			if len(ports) == 0 {
				a.out.say("No serial ports found. Plug a board in (with a data cable), or try `iotbench virtual-board`.")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PORT\tUSB ID\tBRIDGE\tSERIAL\tESP?")
			for _, p := range ports {
				id := "-"
				if p.IsUSB {
					id = fmt.Sprintf("%04x:%04x", p.VID, p.PID)
				}
				esp := ""
				if p.LikelyESP {
					esp = "yes"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Path, id, orDash(p.Bridge), orDash(p.SerialNumber), esp)
			}
			return tw.Flush()
		},
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
