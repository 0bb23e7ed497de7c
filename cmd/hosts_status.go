package cmd

// banco hosts list and status: the commands that only read the hosts file
// (and, for status, ask the system's resolver). They never write.

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/banco/banco/hosts"
)

func newHostsListCmd(a *App) *cobra.Command {
	o := &hostsOptions{}
	c := &cobra.Command{
		Use:   "list [NAME...]",
		Short: "List the names banco manages, and other lines mapping the same names",
		Long: `List the mappings in banco's block of the hosts file, and every line outside
it that maps one of those names, banco.local, or a NAME given.`,
		Example: `  $ banco hosts list
  $ banco hosts list --json`,
		RunE: func(c *cobra.Command, args []string) error { return a.runHostsList(o, args) },
	}
	addFileFlag(c, o)
	c.Flags().BoolVar(&o.json, "json", false, "print JSON")
	return c
}

// hostsListing is the --json form of banco hosts list.
type hostsListing struct {
	File    string          `json:"file"`
	Managed []hosts.Entry   `json:"managed"`
	Other   []hosts.Mapping `json:"other"`
}

func (a *App) runHostsList(o *hostsOptions, names []string) error {
	if err := checkHostNames(names); err != nil {
		return err
	}
	f, err := a.readHosts(o.file)
	if err != nil {
		return err
	}
	r, err := hosts.Inspect(f.Content, append(names, defaultHostName))
	if err != nil {
		return hostsEditError(err, f.Path)
	}
	if o.json {
		l := hostsListing{File: f.Target, Managed: r.Managed, Other: r.Other}
		if l.Managed == nil {
			l.Managed = []hosts.Entry{}
		}
		if l.Other == nil {
			l.Other = []hosts.Mapping{}
		}
		return printJSON(a.Out, l)
	}
	var rows [][]string
	for _, e := range r.Managed {
		rows = append(rows, []string{e.Name, e.Addr, fmt.Sprint(e.Line), "banco"})
	}
	for _, m := range r.Other {
		rows = append(rows, []string{strings.Join(m.Names, " "), m.Addr, fmt.Sprint(m.Line), "other"})
	}
	if len(rows) == 0 {
		a.Infof("banco manages no names in %s", f.Target)
		return nil
	}
	return printTable(a.Out, []string{"NAME", "ADDRESS", "LINE", "SOURCE"}, rows)
}

func newHostsStatusCmd(a *App) *cobra.Command {
	o := &hostsOptions{}
	c := &cobra.Command{
		Use:   "status [NAME...]",
		Short: "Show what the hosts file says about names, and what they resolve to",
		Long: `For each NAME (default: the names banco manages, else banco.local), show the
addresses the hosts file maps it to and the addresses the system's resolver
actually returns. STATE is ok when every address returned is in the file,
differs when another source (DNS, an earlier cache) answers, missing when the
file does not map the name, unresolved when the lookup fails.

The lookup reads the system's resolver, not --file: with --file, the two
columns describe different sources.`,
		Example: `  $ banco hosts status
  $ banco hosts status banco.local --json`,
		RunE: func(c *cobra.Command, args []string) error {
			return a.runHostsStatus(c.Context(), o, args)
		},
	}
	addFileFlag(c, o)
	c.Flags().BoolVar(&o.json, "json", false, "print JSON")
	return c
}

// hostStatus is one name in banco hosts status.
type hostStatus struct {
	Name       string   `json:"name"`
	InFile     []string `json:"in_file"`
	ResolvesTo []string `json:"resolves_to"`
	Error      string   `json:"error,omitempty"`
	State      string   `json:"state"`
}

func (a *App) runHostsStatus(ctx context.Context, o *hostsOptions, names []string) error {
	if err := checkHostNames(names); err != nil {
		return err
	}
	f, err := a.readHosts(o.file)
	if err != nil {
		return err
	}
	r, err := hosts.Inspect(f.Content, names)
	if err != nil {
		return hostsEditError(err, f.Path)
	}
	if sys, err := hosts.DefaultPath(); err == nil && o.file != "" && o.file != sys {
		a.Infof("note: lookups ask the system's resolver, which reads %s, not %s", sys, o.file)
	}
	if len(names) == 0 {
		names = managedNames(r)
	}
	if len(names) == 0 {
		names = []string{defaultHostName}
	}

	var out []hostStatus
	for _, n := range names {
		out = append(out, a.nameStatus(ctx, n, r))
	}
	if o.json {
		return printJSON(a.Out, out)
	}
	var rows [][]string
	for _, s := range out {
		res := strings.Join(s.ResolvesTo, " ")
		if s.Error != "" {
			res = s.Error
		}
		rows = append(rows, []string{s.Name, strings.Join(s.InFile, " "), res, s.State})
	}
	return printTable(a.Out, []string{"NAME", "HOSTS FILE", "RESOLVES TO", "STATE"}, rows)
}

func managedNames(r hosts.Report) []string {
	var names []string
	for _, e := range r.Managed {
		if !containsFold(names, e.Name) {
			names = append(names, e.Name)
		}
	}
	return names
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// nameStatus compares what the file maps name to with what it resolves to.
func (a *App) nameStatus(ctx context.Context, name string, r hosts.Report) hostStatus {
	s := hostStatus{Name: name, InFile: []string{}, ResolvesTo: []string{}}
	for _, e := range r.Managed {
		if strings.EqualFold(e.Name, name) && !containsFold(s.InFile, e.Addr) {
			s.InFile = append(s.InFile, e.Addr)
		}
	}
	for _, m := range r.Other {
		if containsFold(m.Names, name) && !containsFold(s.InFile, m.Addr) {
			s.InFile = append(s.InFile, m.Addr)
		}
	}

	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := lookupHost(ctx, name)
	for _, ad := range addrs {
		if ip, perr := netip.ParseAddr(ad); perr == nil {
			ad = ip.String()
		}
		s.ResolvesTo = append(s.ResolvesTo, ad)
	}
	switch {
	case len(s.InFile) == 0:
		s.State = "missing"
	case err != nil || len(addrs) == 0:
		s.State = "unresolved"
	default:
		s.State = "ok"
		for _, ad := range s.ResolvesTo {
			if !containsFold(s.InFile, ad) {
				s.State = "differs"
			}
		}
	}
	if err != nil {
		s.Error = "lookup failed: " + err.Error()
	}
	return s
}
