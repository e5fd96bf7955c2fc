package awstest

import "syscall"

// sysProcAttr puts moto in its own process group (so StopMoto ends its
// workers too) and has the kernel kill it if the test binary dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
