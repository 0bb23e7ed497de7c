package cmd

import (
	"errors"

	"golang.org/x/sys/windows"
)

// addrInUse reports a listen error for an address another program holds.
// Winsock reports it as WSAEADDRINUSE, which is not syscall.EADDRINUSE.
func addrInUse(err error) bool {
	return errors.Is(err, windows.WSAEADDRINUSE)
}
