package cmd

// banco certs: the CA database's certificates, with their status.

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/banco/banco/ca"
)

// ExpiringSoon is how close to its end a certificate is listed as
// "expiring soon".
const ExpiringSoon = 30 * 24 * time.Hour

type certsOptions struct {
	json   bool
	kind   string
	status string
	name   string
}

func newCertsCmd(a *App) *cobra.Command {
	o := &certsOptions{}
	c := &cobra.Command{
		Use:   "certs",
		Short: "List every certificate the CA issued, with its status",
		Long: `List every certificate recorded in the CA database: serial, kind, subject,
SANs, end of validity and status (valid, expiring soon = within 30 days,
expired, revoked). Run it on the CA host. While 'banco ca serve' runs it
holds the database, and the list comes from the copy it keeps up to date
(inventory.json in the CA folder). No password is needed: the inventory
holds no secret.`,
		Example: `  $ banco certs
  $ banco certs --kind client --status valid
  $ banco certs --json`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return a.runCerts(o)
		},
	}
	f := c.Flags()
	f.BoolVar(&o.json, "json", false, "print JSON")
	f.StringVar(&o.kind, "kind", "", "only server or client certificates")
	f.StringVar(&o.status, "status", "", "only valid, expiring, expired or revoked ones")
	f.StringVar(&o.name, "name", "", "only the certificates of this customer or server name")
	return c
}

type certRow struct {
	Serial    string    `json:"serial"`
	Kind      string    `json:"kind"`
	Subject   string    `json:"subject"`
	SANs      []string  `json:"sans"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	Status    string    `json:"status"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	Reason    string    `json:"reason,omitempty"`
}

func (a *App) runCerts(o *certsOptions) error {
	if o.kind != "" && o.kind != "server" && o.kind != "client" {
		return usageErrorf("--kind must be server or client")
	}
	switch o.status {
	case "", "valid", "expiring", "expired", "revoked":
	default:
		return usageErrorf("--status must be valid, expiring, expired or revoked")
	}
	dir, err := a.healthyCA()
	if err != nil {
		return err
	}
	recs, from, err := a.inventory(dir)
	if err != nil {
		return caError(dir, err)
	}
	if !from.IsZero() {
		a.Infof("'banco ca serve' holds the CA database: this is the inventory it wrote at %s",
			day(from))
	}
	rows := []certRow{}
	expiring := 0
	for _, r := range recs {
		row := a.certRowOf(r)
		if o.kind != "" && row.Kind != o.kind || o.status != "" && !strings.HasPrefix(row.Status,
			o.status) || o.name != "" && !namesMatch(r.Cert, o.name) {
			continue
		}
		if row.Status == "expiring soon" {
			expiring++
		}
		rows = append(rows, row)
	}
	if o.json {
		return printJSON(a.Out, rows)
	}
	if len(rows) == 0 {
		a.Infof("No certificate matches")
		return nil
	}
	var table [][]string
	for _, r := range rows {
		table = append(table, []string{r.Serial, r.Kind, r.Subject, strings.Join(r.SANs, ", "),
			r.NotAfter.UTC().Format("2006-01-02"), r.Status})
	}
	if err := printTable(a.Out, []string{"serial", "kind", "subject", "SANs", "not after",
		"status"}, table); err != nil {
		return err
	}
	if expiring > 0 {
		a.Infof("banco: warning: %d certificate(s) expire within 30 days; renew them "+
			"(banco renew) or enroll again", expiring)
	}
	return nil
}

// healthyCA finds the CA in the banco home and checks its health, for the
// commands that need no CA password.
func (a *App) healthyCA() (string, error) {
	home, err := a.Home()
	if err != nil {
		return "", err
	}
	dir := home.CADir()
	info, err := ca.Load(dir)
	if err != nil {
		return "", caError(dir, err)
	}
	return dir, a.checkCAHealth(info)
}

// inventory reads the certificates of the CA in dir from its database, or,
// while banco ca serve holds it, from the snapshot the server keeps; from
// is then the snapshot's time.
func (a *App) inventory(dir string) (recs []ca.Record, from time.Time, err error) {
	recs, err = ca.Inventory(dir)
	if !errors.Is(err, ca.ErrLocked) {
		return recs, time.Time{}, err
	}
	recs, from, serr := ca.ReadSnapshot(dir)
	if serr != nil {
		// %v on the lock: caError would otherwise take this for a plain
		// ErrLocked and drop the snapshot's part of the story.
		return nil, time.Time{}, withHint(fmt.Errorf("%v, and the copy of the inventory "+
			"that 'banco ca serve' keeps cannot be used: %w", err, serr),
			"stop 'banco ca serve' (Ctrl-C in its terminal) and run the command again: "+
				"it then reads the CA database itself")
	}
	return recs, from, nil
}

// findRecord returns the record of the certificate with serial (decimal).
func findRecord(recs []ca.Record, serial string) (ca.Record, bool) {
	for _, r := range recs {
		if r.Cert.SerialNumber.String() == serial {
			return r, true
		}
	}
	return ca.Record{}, false
}

func (a *App) certRowOf(r ca.Record) certRow {
	c := r.Cert
	row := certRow{
		Serial: c.SerialNumber.String(), Kind: string(r.Kind), Subject: c.Subject.CommonName,
		SANs: sanStrings(c), NotBefore: c.NotBefore, NotAfter: c.NotAfter,
	}
	now := a.Now()
	switch {
	case r.Revoked:
		row.Status, row.RevokedAt, row.Reason = "revoked", r.RevokedAt, reasonName(r.ReasonCode)
	case !now.Before(c.NotAfter):
		row.Status = "expired"
	case c.NotAfter.Sub(now) < ExpiringSoon:
		row.Status = "expiring soon"
	default:
		row.Status = "valid"
	}
	if row.SANs == nil {
		row.SANs = []string{}
	}
	return row
}

func reasonName(code int) string {
	for k, v := range ca.ReasonCodes {
		if v == code {
			return k
		}
	}
	return fmt.Sprintf("code %d", code)
}
