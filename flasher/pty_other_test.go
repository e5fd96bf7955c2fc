//go:build !linux

package flasher_test

import (
	"errors"

	"github.com/iotbench/iotbench/virtualboard"
)

type ptyServer interface {
	Path() string
	Close() error
}

func servePTY(b *virtualboard.Board) (ptyServer, error) { return nil, errors.New("no pty") }
