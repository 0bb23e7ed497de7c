package cmd

// banco certs: the CA database's certificates, with their status.

import (
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
expired, revoked). Run it on the CA host while 'banco ca serve' is stopped.`,
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
	home, err := a.Home()
	if err != nil {
		return err
	}
	recs, err := ca.Inventory(home.CADir())
	if err != nil {
		return caError(home.CADir(), err)
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
