package cmd

import "github.com/spf13/cobra"

// Placeholder until the client commands are written.
func newBankCmds(a *App) []*cobra.Command { return nil }
