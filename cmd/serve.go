package cmd

import "github.com/spf13/cobra"

// Placeholder until this command group is written.
func newServeCmd(a *App) *cobra.Command {
	return &cobra.Command{Use: "serve", Hidden: true}
}
