package cmd

import "github.com/spf13/cobra"

// Placeholder until this command group is written.
func newEnrollCmd(a *App) *cobra.Command {
	return &cobra.Command{Use: "enroll", Hidden: true}
}
