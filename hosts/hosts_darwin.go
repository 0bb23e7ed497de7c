package hosts

// FlushCommands lists the commands that empty the OS's DNS cache.
func FlushCommands() [][]string {
	return [][]string{{"dscacheutil", "-flushcache"}, {"killall", "-HUP", "mDNSResponder"}}
}

// MDNSLocal reports whether the OS sends .local names to multicast DNS
// (Bonjour) unless the hosts file maps them: macOS does.
const MDNSLocal = true
