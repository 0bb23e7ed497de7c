package cmd

// The hosts command group. Changes to the hosts file are shown as a diff and
// confirmed on a terminal (--yes skips the question); without a terminal on
// stdin and stderr (scripts, tests) banco writes without asking, as scripts
// have already decided. --dry-run prints the diff on stdout and writes nothing.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/diff"
	"github.com/spf13/cobra"

	"github.com/banco/banco/hosts"
)

const defaultHostName = "banco.local"

// Seams for tests: they write through the real library and real files, but
// can inject a write error, record DNS flushes instead of running them,
// answer a lookup and pretend to be a terminal.
var (
	writeHosts     = (*hosts.File).Write
	runFlush       = execFlush
	lookupHost     = net.DefaultResolver.LookupHost
	hostsPromptsOn = func(a *App) bool { return IsTerminal(a.In) && IsTerminal(a.Err) }
)

type hostsOptions struct {
	file    string
	addrs   []string
	dryRun  bool
	yes     bool
	force   bool
	noFlush bool
	json    bool
}

func newHostsCmd(a *App) *cobra.Command {
	c := &cobra.Command{
		Use:   "hosts",
		Short: "Make banco.local (and other names) resolve through the hosts file",
		Long: `Make banco.local (and other names) resolve, by editing the system's hosts
file: /etc/hosts, or on Windows the file in the folder named by the Tcpip
DataBasePath setting (normally C:\Windows\System32\drivers\etc\hosts).

banco owns one block in the file, between "# BEGIN banco" and "# END banco",
and changes nothing outside it. Before its first change it saves the file as
hosts.banco.bak beside it, never overwritten later: the file before banco.
Before every change it saves the file as it is then as hosts.banco.prev:
copy that one back to undo banco's last change and keep everything else.
Every change is written to a temporary file and renamed into place, or
written in place where rename cannot replace the file (a bind mount, or a
file in use); the file is never left empty or half-written. If another
program changes the file while banco edits it, banco writes nothing.

Changing the system's hosts file needs administrator rights (sudo on Linux
and macOS, an elevated PowerShell on Windows). After a change banco flushes
the DNS cache where the system has one, and says what it ran.

Known limits: on SELinux systems run "restorecon /etc/hosts" after a change,
as the replaced file gets its folder's default label. A write in place (bind
mounts, files in use) is not atomic: if the machine loses power during it,
the file can hold part new, part old content; hosts.banco.prev then holds
the file as it was before the change.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error { return c.Help() },
	}
	c.AddCommand(newHostsAddCmd(a), newHostsRemoveCmd(a), newHostsListCmd(a),
		newHostsStatusCmd(a))
	return c
}

func addFileFlag(c *cobra.Command, o *hostsOptions) {
	c.Flags().StringVar(&o.file, "file", "", "edit this hosts file instead of the system's")
}

func addWriteFlags(c *cobra.Command, o *hostsOptions) {
	addFileFlag(c, o)
	c.Flags().BoolVar(&o.dryRun, "dry-run", false, "print the change as a diff and write nothing")
	c.Flags().BoolVarP(&o.yes, "yes", "y", false, "write without asking for confirmation")
	c.Flags().BoolVar(&o.noFlush, "no-flush", false, "do not flush the DNS cache after a change")
}

func newHostsAddCmd(a *App) *cobra.Command {
	o := &hostsOptions{}
	c := &cobra.Command{
		Use:   "add [NAME...]",
		Short: "Map names (default banco.local) to addresses in the hosts file",
		Long: `Map each NAME (default banco.local) to each --ip address (default 127.0.0.1
and ::1) in banco's block of the hosts file. Addresses banco mapped a name to
before and that are not given now are dropped. Nothing is written, and the
command succeeds, when the file already maps each name to each address:
in banco's block or in lines of its own, which are then pointed out.

Otherwise a line outside banco's block that maps the same name is reported
and the command stops: resolvers use the first matching line, so banco's
entry could be ignored. Edit that line yourself, or pass --force to add
banco's anyway.`,
		Example: `  $ sudo banco hosts add
  $ sudo banco hosts add banco.local api.banco.local --ip 192.168.1.20
  $ banco hosts add --dry-run
  $ banco hosts add --file ./hosts --yes`,
		RunE: func(c *cobra.Command, args []string) error {
			return a.runHostsEdit(c, o, hosts.Add, args)
		},
	}
	addWriteFlags(c, o)
	c.Flags().StringArrayVar(&o.addrs, "ip", nil,
		"address to map the names to, repeatable (default 127.0.0.1 and ::1)")
	c.Flags().BoolVar(&o.force, "force", false,
		"add even when a line outside banco's block maps the name")
	return c
}

func newHostsRemoveCmd(a *App) *cobra.Command {
	o := &hostsOptions{}
	c := &cobra.Command{
		Use:   "remove [NAME...]",
		Short: "Remove names (default banco.local) from banco's block of the hosts file",
		Long: `Remove each NAME (default banco.local) from banco's block of the hosts file,
and the block itself once empty, which gives back the file as it was before
banco added it. Lines outside the block are reported and left alone.`,
		Example: `  $ sudo banco hosts remove
  $ banco hosts remove api.banco.local --file ./hosts --dry-run`,
		RunE: func(c *cobra.Command, args []string) error {
			return a.runHostsEdit(c, o, hosts.Remove, args)
		},
	}
	addWriteFlags(c, o)
	return c
}

func (a *App) runHostsEdit(
	c *cobra.Command, o *hostsOptions, kind hosts.Kind, names []string,
) error {
	op, err := hostsOp(o, kind, names)
	if err != nil {
		return err
	}
	f, err := a.readHosts(o.file)
	if err != nil {
		return err
	}
	out, ch, err := hosts.Edit(f.Content, op)
	if err != nil {
		return hostsEditError(err, f.Path)
	}
	a.reportOutside(f.Path, op, ch.Outside)
	if !ch.Changed() {
		a.Infof("%s: nothing to do", unchangedReason(op, f.Path))
		return nil
	}

	d := diff.Diff(f.Target, f.Content, f.Target+" (banco)", out)
	if o.dryRun {
		if _, err := a.Out.Write(d); err != nil {
			return err
		}
		a.Infof("dry run: %s not changed", f.Target)
		return nil
	}
	if !o.yes && hostsPromptsOn(a) {
		if err := a.confirmHosts(f.Target, d); err != nil {
			return err
		}
	}

	res, err := writeHosts(f, out)
	if err != nil {
		return hostsWriteError(err, f.Target, commandLine(c, o, names))
	}
	a.reportHostsWrite(f, ch, res)
	if !o.noFlush {
		a.flushDNS(c.Context())
	}
	if kind == hosts.Add {
		if n := localNote(op.Names, hosts.MDNSLocal); n != "" {
			a.Infof("%s", n)
		}
	}
	return nil
}

func unchangedReason(op hosts.Op, path string) string {
	names := strings.Join(op.Names, " ")
	if op.Kind == hosts.Remove {
		return fmt.Sprintf("banco's block in %s has no entry for %s", path, names)
	}
	var addrs []string
	for _, ip := range op.Addrs {
		addrs = append(addrs, ip.String())
	}
	return fmt.Sprintf("%s already maps %s to %s", path, names, strings.Join(addrs, " "))
}

func hostsOp(o *hostsOptions, kind hosts.Kind, names []string) (hosts.Op, error) {
	if len(names) == 0 {
		names = []string{defaultHostName}
	}
	if err := checkHostNames(names); err != nil {
		return hosts.Op{}, err
	}
	op := hosts.Op{
		Kind: kind, Names: names, Force: o.force,
		NewLine: hosts.DefaultNewLine, MaxNames: hosts.MaxNamesPerLine,
	}
	if kind != hosts.Add {
		return op, nil
	}
	addrs := o.addrs
	if len(addrs) == 0 {
		addrs = []string{"127.0.0.1", "::1"}
	}
	for _, s := range addrs {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return op, usageErrorf("--ip %q is not an IP address", s)
		}
		op.Addrs = append(op.Addrs, ip)
	}
	return op, nil
}

// checkHostNames refuses, as a usage error, a name the hosts file cannot hold.
func checkHostNames(names []string) error {
	for _, n := range names {
		if err := hosts.CheckName(n); err != nil {
			return usageErrorf("%v", err)
		}
	}
	return nil
}

// readHosts reads the file named by --file, else the system's hosts file.
func (a *App) readHosts(path string) (*hosts.File, error) {
	if path == "" {
		p, err := hosts.DefaultPath()
		if err != nil {
			return nil, withHint(err, "pass the hosts file with --file PATH")
		}
		path = p
	}
	f, err := hosts.Read(path)
	switch {
	case err == nil:
		a.Debugf("hosts file %s (target %s)", f.Path, f.Target)
		return f, nil
	case errors.Is(err, hosts.ErrNotText):
		return nil, withHint(err, "save the file as UTF-8 or ANSI text and run again; "+
			"banco does not rewrite a file it cannot read as text")
	case errors.Is(err, fs.ErrNotExist):
		return nil, withHint(err, "check the path given with --file")
	case errors.Is(err, fs.ErrPermission):
		return nil, withHint(err, hosts.ElevateHint("banco hosts"))
	}
	return nil, err
}

func hostsEditError(err error, path string) error {
	var ce *hosts.ConflictError
	var be *hosts.BlockError
	switch {
	case errors.As(err, &ce):
		return withHint(fmt.Errorf("%s: %w", path, err),
			"banco never changes lines outside its block: edit or remove that line yourself, "+
				"or pass --force to add banco's entries anyway (the first matching line wins)")
	case errors.As(err, &be):
		return withHint(fmt.Errorf("%s: %w", path, err),
			"repair or delete the lines from '# BEGIN banco' to '# END banco' by hand "+
				"(if banco changed the file before, "+path+hosts.PrevSuffix+
				" holds it as it was before banco's last change)")
	}
	return fmt.Errorf("edit hosts file %s: %w", path, err)
}

func hostsWriteError(err error, path, cmdline string) error {
	switch {
	case hosts.IsReadOnlyFS(err):
		return withHint(fmt.Errorf("%s is on a read-only file system: %w", path, err),
			"remount it read-write, or change the image the system boots from; "+
				"--file edits a copy elsewhere")
	case errors.Is(err, fs.ErrPermission):
		return withHint(fmt.Errorf("no permission to change %s: %w", path, err),
			hosts.ElevateHint(cmdline))
	case errors.Is(err, hosts.ErrChanged):
		return withHint(err,
			"nothing was written; run the command again to edit the file as it is now")
	}
	return err
}

// commandLine rebuilds the command the user ran, for the elevation hint.
func commandLine(c *cobra.Command, o *hostsOptions, names []string) string {
	parts := append([]string{c.CommandPath()}, names...)
	for _, ip := range o.addrs {
		parts = append(parts, "--ip", ip)
	}
	if o.file != "" {
		parts = append(parts, "--file", o.file)
	}
	if o.force {
		parts = append(parts, "--force")
	}
	return strings.Join(parts, " ")
}

func (a *App) confirmHosts(path string, d []byte) error {
	if _, err := a.Err.Write(d); err != nil {
		return err
	}
	fmt.Fprintf(a.Err, "Write this change to %s? [y/N] ", path)
	answer, _ := bufio.NewReader(a.In).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return withHint(fmt.Errorf("change to %s not confirmed; nothing written", path),
		"answer y, or pass --yes to write without asking")
}

// reportOutside points out lines outside banco's block that map the op's
// names: a note for a line that maps them to an address the add asks for,
// else a warning, as resolvers may answer from that line before banco's.
func (a *App) reportOutside(path string, op hosts.Op, ms []hosts.Mapping) {
	for _, m := range ms {
		kind := "warning"
		if op.Kind == hosts.Add && slices.ContainsFunc(op.Addrs, func(ip netip.Addr) bool {
			return ip.String() == m.Addr
		}) {
			kind = "note"
		}
		a.Infof("%s: line %d of %s maps %s to %s outside banco's block; banco leaves it alone: %s",
			kind, m.Line, path, strings.Join(m.Names, " "), m.Addr, m.Text)
	}
}

func (a *App) reportHostsWrite(f *hosts.File, ch hosts.Changes, res hosts.WriteResult) {
	if res.Backup != "" {
		a.Infof("saved the original as %s", res.Backup)
	}
	if res.Prev != "" {
		a.Infof("saved the file as it was before this change as %s", res.Prev)
	}
	if f.Target != f.Path {
		a.Infof("%s is a link: edited its target %s", f.Path, f.Target)
	}
	if res.InPlace {
		a.Infof("wrote %s in place: it cannot be replaced by rename (bind mount or file in use)",
			f.Target)
	}
	for _, e := range ch.Removed {
		a.Infof("removed from %s: %s %s", f.Target, e.Addr, e.Name)
	}
	for _, e := range ch.Added {
		a.Infof("added to %s: %s %s", f.Target, e.Addr, e.Name)
	}
}

// flushDNS empties the OS's DNS cache, best effort, and says what it ran.
func (a *App) flushDNS(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for _, argv := range hosts.FlushCommands() {
		cmdline := strings.Join(argv, " ")
		err := runFlush(ctx, argv)
		switch {
		case err == nil:
			a.Infof("flushed the DNS cache: %s", cmdline)
		case errors.Is(err, exec.ErrNotFound):
			a.Infof("no DNS cache to flush (%s not found)", argv[0])
		default:
			a.Infof("could not flush the DNS cache with %s: %v; "+
				"the change shows once cached answers expire", cmdline, err)
		}
	}
}

func execFlush(ctx context.Context, argv []string) error {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, path, argv[1:]...).CombinedOutput()
	if err != nil && len(out) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	return err
}

// localNote explains, where .local goes to multicast DNS (macOS), why banco
// maps .local names in the hosts file.
func localNote(names []string, mdns bool) string {
	var local []string
	for _, n := range names {
		if strings.HasSuffix(strings.ToLower(strings.TrimSuffix(n, ".")), ".local") {
			local = append(local, n)
		}
	}
	if !mdns || len(local) == 0 {
		return ""
	}
	return fmt.Sprintf("note: this system asks multicast DNS (Bonjour) for names ending in "+
		".local, such as %s, unless the hosts file maps them; keep both the IPv4 and IPv6 "+
		"entries, or lookups wait for a multicast timeout first", strings.Join(local, ", "))
}
