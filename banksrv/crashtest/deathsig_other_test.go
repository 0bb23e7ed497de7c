//go:build !linux

package crashtest

import "os/exec"

// dieWithTest does nothing here: only Linux has a parent-death signal. A
// test killed by -timeout may leave its banco serve running.
func dieWithTest(*exec.Cmd) {}
