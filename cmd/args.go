package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Argument validators that report a usageError, so a wrong count exits 2 and
// prints the usage line, like a bad flag does.

func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %q", c.CommandPath(), args)
	}
	return nil
}

// oneArg takes exactly one argument: name is what the usage line calls it
// (AMOUNT), what says it in a sentence ("an AMOUNT, such as 12.50").
func oneArg(name, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return usageErrorf("%s needs %s", c.CommandPath(), what)
		case len(args) > 1:
			return usageErrorf("%s takes exactly one %s, got %d: %s", c.CommandPath(), name,
				len(args), shellJoin(args))
		}
		return nil
	}
}

// oneName is oneArg for a customer's name, which may hold spaces: given in
// pieces, it was most likely split by the shell.
func oneName(name, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		err := oneArg(name, what)(c, args)
		if len(args) > 1 {
			joined := strings.Join(args, " ")
			return withHint(err, fmt.Sprintf("quote a name with spaces: %s %s",
				c.CommandPath(), shellQuoteName(joined)))
		}
		return err
	}
}

// shellQuoteName quotes a name for the shell the way people write it: in
// double quotes when it has spaces and nothing a shell expands inside them.
func shellQuoteName(s string) string {
	if strings.ContainsAny(s, "\"$`\\!") {
		return shellQuote(s)
	}
	return `"` + s + `"`
}

func maxArgs(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) > n {
			return usageErrorf("%s takes at most %s", c.CommandPath(), what)
		}
		return nil
	}
}
