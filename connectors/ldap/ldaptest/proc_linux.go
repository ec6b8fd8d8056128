package ldaptest

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill slapd if the test process dies first
// (a panic, a -timeout), so no server outlives its tests.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
