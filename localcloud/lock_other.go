//go:build !unix

package localcloud

import "sync"

var processLock sync.Mutex

// lockFile serialises updates within this process only: without flock,
// two iotbench processes updating the registry at once may lose one
// update.
func lockFile(string) (func(), error) {
	processLock.Lock()
	return processLock.Unlock, nil
}
