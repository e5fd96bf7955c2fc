//go:build !linux

package main

import "github.com/iotbench/iotbench/virtualboard"

// ptyCloser stands in for the Linux-only PTY type.
type ptyCloser interface {
	Path() string
	Close() error
}

func servePTY(b *virtualboard.Board, ob virtualboard.OpenBoot) (ptyCloser, error) {
	return nil, nil
}
