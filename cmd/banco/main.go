// Command banco is a bank with its own certificate authority: a CA, an mTLS
// bank server and its client, and a safe hosts-file editor, in one binary.
package main

import (
	"os"

	"github.com/banco/banco/cmd"
)

func main() {
	os.Exit(cmd.Main(cmd.NewApp()))
}
