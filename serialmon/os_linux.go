package serialmon

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// isPseudoTerminal reports whether path is the slave side of a Unix 98
// pseudo-terminal (/dev/pts/N, majors 136–143 in Linux's devices.txt).
func isPseudoTerminal(path string) bool {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return false
	}
	major := unix.Major(uint64(st.Rdev))
	return major >= 136 && major <= 143
}

// closeOnExec runs open and marks close-on-exec the descriptors that
// appeared meanwhile. go.bug.st/serial opens the device (and its wake-up
// pipe) without O_CLOEXEC and does not expose the descriptor, so any
// program this process starts would inherit the port: it would keep a USB
// port busy after Close (the exclusive-use flag stays until the last
// descriptor closes) and hide the close from a virtual board behind a pty.
// ForkLock keeps a fork from happening in between; marking a descriptor
// another goroutine opened meanwhile is harmless, since Go opens all of its
// own with O_CLOEXEC anyway.
func closeOnExec[T any](open func() (T, error)) (T, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	before := openFDs()
	v, err := open()
	if err != nil || before == nil {
		return v, err
	}
	for fd := range openFDs() {
		if !before[fd] {
			unix.CloseOnExec(fd)
		}
	}
	return v, nil
}

// openFDs lists this process's descriptors, leaving out the one used to
// read the list: it is closed again and the open may well reuse its number.
func openFDs() map[int]bool {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return nil
	}
	defer d.Close()
	self := int(d.Fd())
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil
	}
	fds := make(map[int]bool, len(names))
	for _, n := range names {
		if fd, err := strconv.Atoi(n); err == nil && fd != self {
			fds[fd] = true
		}
	}
	return fds
}

// holders names the processes that have path open, from /proc (only
// those this user may inspect), so "busy" can say who holds the port.
func holders(path string) []string {
	want := resolvePath(path)
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var out []string
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == self {
			continue
		}
		fdDir := "/proc/" + p.Name() + "/fd"
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if target, err := os.Readlink(fdDir + "/" + fd.Name()); err == nil && target == want {
				comm, _ := os.ReadFile("/proc/" + p.Name() + "/comm")
				name := strings.TrimSpace(string(comm))
				out = append(out, fmt.Sprintf("%s (pid %d)", name, pid))
				break
			}
		}
	}
	return out
}
