package cmd

import "github.com/spf13/cobra"

// commands lists banco's top-level commands, in the order help shows them.
func (a *App) commands() []*cobra.Command {
	cmds := []*cobra.Command{
		newInitCmd(a),
		newEnrollCmd(a),
		newCACmd(a),
		newRevokeCmd(a),
		newCertsCmd(a),
		newRenewCmd(a),
		newInspectCmd(a),
		newExportCmd(a),
		newServeCmd(a),
	}
	cmds = append(cmds, newBankCmds(a)...)
	return append(cmds,
		newLedgerCmd(a),
		newBenchCmd(a),
		newHostsCmd(a),
	)
}
