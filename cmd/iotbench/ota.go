package main

import "github.com/spf13/cobra"

// otaCommand is replaced by the OTA uploader (issue 7).
func (a *app) otaCommand() *cobra.Command {
	return &cobra.Command{Use: "ota", Short: "OTA updates (not implemented yet)", Hidden: true}
}
