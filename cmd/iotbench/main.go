// Command iotbench takes an ESP8266/ESP32 board on a USB port to a
// verified MQTT publish. This file set is its CLI: one file per command
// group, flags, exit codes and --json output; the protocols live in the
// domain packages (flasher, serialmon, virtualboard, …).
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the CLI and returns the process exit code; tests call it
// in-process and through testscript.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(getenv, stdin, stdout, stderr)
	cmd := app.rootCommand()
	cmd.SetArgs(args)
	cmd.SetIn(stdin)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	return app.reportError(ctx, err)
}
