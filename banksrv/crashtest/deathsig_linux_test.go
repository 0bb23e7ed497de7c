package crashtest

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes the kernel kill cmd if the test process dies first
// (say, on a -timeout panic, which skips t.Cleanup), so that no banco serve
// outlives the test.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
