package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/bouncewatch/bouncewatch/internal/advice"
	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

// triageLine is one line of `triage --json` (the contract in shared/eval/README.md).
type triageLine struct {
	File string `json:"file"`
	*bounce.Report
}

// maxInput bounds what triage reads of one file.
const maxInput = 64 << 20

func cmdTriage(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("triage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per file (JSON Lines)")
	lang := fs.String("lang", "ja", "language of the explanation: ja or en")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bouncewatch triage [--json] [--lang ja|en] FILE... (- for stdin)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	files := fs.Args()
	if len(files) == 0 {
		fs.Usage()
		return 2
	}
	w := bufio.NewWriterSize(stdout, 64<<10)
	defer w.Flush()
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	status := 0
	for _, f := range files {
		raw, err := readInput(f, stdin)
		var rep *bounce.Report
		if err != nil {
			rep = &bounce.Report{Kind: bounce.KindNone, Recipients: []bounce.Recipient{}, Error: err.Error()}
			status = 1
		} else {
			rep = bounce.Analyze(raw)
		}
		if *asJSON {
			if err := enc.Encode(triageLine{File: f, Report: rep}); err != nil {
				fmt.Fprintln(stderr, "bouncewatch:", err)
				return 1
			}
			continue
		}
		printHuman(w, f, rep, advice.Lang(*lang))
	}
	return status
}

func readInput(name string, stdin io.Reader) ([]byte, error) {
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxInput {
		return nil, fmt.Errorf("%s: larger than %d MiB", name, maxInput>>20)
	}
	return b, nil
}
