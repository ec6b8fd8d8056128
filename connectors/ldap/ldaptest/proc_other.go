//go:build !linux

package ldaptest

import "os/exec"

func dieWithParent(cmd *exec.Cmd) {}
