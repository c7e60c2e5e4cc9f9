package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/bouncewatch/bouncewatch/internal/advice"
	"github.com/bouncewatch/bouncewatch/internal/bounce"
	"github.com/bouncewatch/bouncewatch/internal/safetext"
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
	for res := range analyzeAll(files, stdin) {
		f, rep := res.file, res.rep
		if res.unreadable {
			status = 1
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

type triaged struct {
	file       string
	rep        *bounce.Report
	unreadable bool
}

// analyzeAll reads and analyses files on every core and yields the results
// in input order. At most a few files per worker are in memory at once.
func analyzeAll(files []string, stdin io.Reader) <-chan triaged {
	workers := runtime.GOMAXPROCS(0)
	if workers > len(files) {
		workers = len(files)
	}
	out := make(chan triaged, workers)
	slots := make([]chan triaged, len(files))
	for i := range slots {
		slots[i] = make(chan triaged, 1)
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				f := files[i]
				raw, err := readInput(f, stdin)
				if err != nil {
					slots[i] <- triaged{file: f, unreadable: true,
						rep: &bounce.Report{Kind: bounce.KindNone, Recipients: []bounce.Recipient{}, Error: safetext.ClipError(err)}}
					continue
				}
				rep := bounce.Analyze(raw)
				// The error may quote the input (a 1 MB malformed header
				// line): printed bounded.
				rep.Error = safetext.Clip(rep.Error, safetext.MaxError)
				slots[i] <- triaged{file: f, rep: rep}
			}
		}()
	}
	go func() {
		// Hand out work no further ahead than the writer has come, so memory
		// stays bounded by the number of workers.
		window := make(chan struct{}, 4*workers)
		done := make(chan struct{})
		go func() {
			for i := range files {
				select {
				case window <- struct{}{}:
				case <-done:
					return
				}
				jobs <- i
			}
			close(jobs)
		}()
		for i := range files {
			out <- <-slots[i]
			<-window
		}
		close(done)
		wg.Wait()
		close(out)
	}()
	return out
}
