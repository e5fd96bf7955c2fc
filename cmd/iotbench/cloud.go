package main

import "github.com/spf13/cobra"

// cloudCommand and mqttCommand are replaced by the local cloud and the
// MQTT viewer (issue 6).
func (a *app) cloudCommand() *cobra.Command {
	return &cobra.Command{Use: "cloud", Short: "Local cloud (not implemented yet)", Hidden: true}
}

func (a *app) mqttCommand() *cobra.Command {
	return &cobra.Command{Use: "mqtt", Short: "MQTT viewer (not implemented yet)", Hidden: true}
}
