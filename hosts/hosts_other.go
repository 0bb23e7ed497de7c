//go:build !linux && !darwin && !windows

package hosts

// FlushCommands lists the commands that empty the OS's DNS cache: none known.
func FlushCommands() [][]string { return nil }

// MDNSLocal reports whether the OS sends .local names to multicast DNS
// unless the hosts file maps them.
const MDNSLocal = false
