// Command bouncewatch watches a shared mailbox for bounced mail and explains
// each failure in Japanese, with what to do next.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprintln(w, `usage: bouncewatch COMMAND [ARGS]

commands:
  triage [--json] FILE...   explain bounce messages (- reads stdin)`)
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "triage":
		return cmdTriage(args[1:], stdin, stdout, stderr)
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "bouncewatch: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}
