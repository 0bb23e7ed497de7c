package hosts

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// DefaultNewLine ends the lines banco writes in a file that has none yet.
const DefaultNewLine = "\r\n"

// MaxNamesPerLine caps the names on each line banco writes: Windows' resolver
// reads at most 9 names per line and ignores the rest.
const MaxNamesPerLine = 9

// DefaultPath returns the hosts file Windows reads: "hosts" in the folder
// named by the Tcpip DataBasePath setting, else in
// %SystemRoot%\System32\drivers\etc.
func DefaultPath() (string, error) {
	var db string
	k, err := registry.OpenKey(registry.LOCAL_MACHINE,
		`SYSTEM\CurrentControlSet\Services\Tcpip\Parameters`, registry.QUERY_VALUE)
	if err == nil {
		db, _, _ = k.GetStringValue("DataBasePath")
		k.Close()
	}
	return windowsPath(db, os.Getenv), nil
}

// ElevateHint tells how to run command with the rights to edit the hosts file.
func ElevateHint(command string) string {
	return "the hosts file belongs to the system; open PowerShell as administrator " +
		"(right-click it, Run as administrator) and run: " + command
}

// IsReadOnlyFS reports whether err comes from a write-protected volume.
func IsReadOnlyFS(err error) bool { return errors.Is(err, windows.ERROR_WRITE_PROTECT) }

// renameImpossible reports a rename refused because another program holds
// the file open (antivirus, the DNS client) or it is on another volume.
// ERROR_ACCESS_DENIED is included because Windows also reports an open
// handle that way; writing in place then fails for real if rights lack.
func renameImpossible(err error) bool {
	return errors.Is(err, windows.ERROR_SHARING_VIOLATION) ||
		errors.Is(err, windows.ERROR_LOCK_VIOLATION) ||
		errors.Is(err, windows.ERROR_NOT_SAME_DEVICE) ||
		errors.Is(err, windows.ERROR_ACCESS_DENIED)
}

// TODO(windows-readonly): a hosts file with the read-only attribute (set by
// some security tools) is refused like a missing right; clearing and
// restoring the attribute would let an administrator's run succeed.

// keepOwner does nothing on Windows.
//
// TODO(windows-acl): copy the original's security descriptor to the
// temporary file; today the new file gets the folder's inherited ACL, which
// is what a stock etc folder gives its hosts file anyway.
func keepOwner(*os.File, fs.FileInfo) error { return nil }

// syncDir does nothing: Windows has no way to sync a folder.
func syncDir(string) {}

// FlushCommands lists the commands that empty the OS's DNS cache.
func FlushCommands() [][]string { return [][]string{{"ipconfig", "/flushdns"}} }

// MDNSLocal reports whether the OS sends .local names to multicast DNS
// unless the hosts file maps them.
const MDNSLocal = false
