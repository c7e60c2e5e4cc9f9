package main

import (
	"fmt"
	"io"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

// printHuman prints a readable report of one message.
func printHuman(w io.Writer, file string, rep *bounce.Report, lang string) {
	fmt.Fprintf(w, "== %s: %s\n", file, rep.Kind)
	if rep.Error != "" {
		fmt.Fprintf(w, "   error: %s\n", rep.Error)
	}
	for _, r := range rep.Recipients {
		fmt.Fprintf(w, "   %s  %s  %s %s  provider=%s remote=%s ip=%s\n      %s\n", r.Address, r.Reason, r.Status, r.ReplyCode, r.Provider, r.RemoteMTA, rep.SendingIP, r.Diagnostic)
	}
}
