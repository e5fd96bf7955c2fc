package main

import "github.com/iotbench/iotbench/virtualboard"

func servePTY(b *virtualboard.Board, ob virtualboard.OpenBoot) (*virtualboard.PTY, error) {
	return b.ServePTY(ob)
}
