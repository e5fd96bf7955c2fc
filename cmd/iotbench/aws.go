package main

import "github.com/spf13/cobra"

// awsCommand is replaced by the AWS IoT provisioning commands (issue 5).
func (a *app) awsCommand() *cobra.Command {
	return &cobra.Command{Use: "aws", Short: "AWS IoT provisioning (not implemented yet)", Hidden: true}
}
