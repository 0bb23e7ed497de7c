package hosts

import "strings"

// windowsPath returns the hosts file in the folder named by the Tcpip
// DataBasePath registry value db, expanding %VARIABLES% with getenv, else in
// %SystemRoot%\System32\drivers\etc. It lives outside hosts_windows.go so
// that it is tested on every OS.
func windowsPath(db string, getenv func(string) string) string {
	dir := strings.TrimRight(expandPercent(db, getenv), `\/`)
	if dir == "" {
		root := getenv("SystemRoot")
		if root == "" {
			root = `C:\Windows`
		}
		dir = strings.TrimRight(root, `\/`) + `\System32\drivers\etc`
	}
	return dir + `\hosts`
}

// expandPercent expands %NAME% the way REG_EXPAND_SZ values are; unknown
// names are left as they are, as ExpandEnvironmentStrings does.
func expandPercent(s string, getenv func(string) string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '%')
		j := -1
		if i >= 0 {
			j = strings.IndexByte(s[i+1:], '%')
		}
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		name := s[i+1 : i+1+j]
		b.WriteString(s[:i])
		if v := getenv(name); v != "" && name != "" {
			b.WriteString(v)
		} else {
			b.WriteString(s[i : i+j+2])
		}
		s = s[i+j+2:]
	}
}
