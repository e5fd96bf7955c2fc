package flasher_test

import "github.com/iotbench/iotbench/virtualboard"

func servePTY(b *virtualboard.Board) (*virtualboard.PTY, error) {
	return b.ServePTY(virtualboard.OpenBootDownload)
}
