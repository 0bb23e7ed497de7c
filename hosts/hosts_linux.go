package hosts

// FlushCommands lists the commands that empty the OS's DNS cache; they may
// be missing (resolvectl exists only with systemd-resolved).
func FlushCommands() [][]string { return [][]string{{"resolvectl", "flush-caches"}} }

// MDNSLocal reports whether the OS sends .local names to multicast DNS
// unless the hosts file maps them.
const MDNSLocal = false
