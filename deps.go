//go:build bancodeps

package tools

import (
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/olekukonko/tablewriter"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "github.com/smallstep/certificates/authority"
	_ "github.com/smallstep/certificates/ca"
	_ "github.com/smallstep/cli-utils/token/provision"
	_ "github.com/spf13/cobra"
	_ "go.step.sm/crypto/pemutil"
	_ "golang.org/x/term"
	_ "modernc.org/sqlite"
	_ "software.sslmate.com/src/go-pkcs12"
)
