//go:build !windows

package cmd

import (
	"errors"
	"syscall"
)

// addrInUse reports a listen error for an address another program holds.
func addrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE)
}
