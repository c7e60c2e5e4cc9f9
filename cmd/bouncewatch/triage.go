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
	"github.com/bouncewatch/bouncewatch/internal/app"
	"github.com/bouncewatch/bouncewatch/internal/bounce"
	"github.com/bouncewatch/bouncewatch/internal/safetext"
)

// triageLine is one line of `triage --json` (the contract in shared/eval/README.md).
// Recipients shadows the report's own list to add each recipient's advice.
type triageLine struct {
	File string `json:"file"`
	*bounce.Report
	Recipients []triageRecipient `json:"recipients"`
}

// triageRecipient is one recipient with the advice people read for it: the
// same advice.Advice the notices are rendered from (without the facts, which
// repeat the recipient's own fields).
type triageRecipient struct {
	bounce.Recipient
	Advice advice.Advice `json:"advice"`
}

func newTriageLine(file string, rep *bounce.Report, lang advice.Lang, opts []advice.Option) triageLine {
	l := triageLine{File: file, Report: rep, Recipients: make([]triageRecipient, 0, len(rep.Recipients))}
	opts = append(opts[:len(opts):len(opts)], advice.WithoutFacts()) // the recipient's fields are in the line already
	for _, rc := range rep.Recipients {
		a := advice.ForRecipient(rep, rc, lang, opts...)
		l.Recipients = append(l.Recipients, triageRecipient{Recipient: rc, Advice: a})
	}
	return l
}

// adviceOptions are the office's settings that shape the advice (its
// hosting company), read from the environment like `run` does. A broken
// configuration is reported and the advice stays generic: triage works
// without any configuration.
func adviceOptions(stderr io.Writer) []advice.Option {
	cfg, err := app.LoadConfig()
	if err != nil {
		fmt.Fprintln(stderr, "bouncewatch: advice without the office's settings:", err)
		return nil
	}
	return cfg.AdviceOptions()
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
	l := advice.Lang(*lang)
	if l != advice.Japanese && l != advice.English {
		fmt.Fprintf(stderr, "bouncewatch: --lang %q: want ja or en\n", *lang)
		return 2
	}
	opts := adviceOptions(stderr)
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
			if err := enc.Encode(newTriageLine(f, rep, l, opts)); err != nil {
				fmt.Fprintln(stderr, "bouncewatch:", err)
				return 1
			}
			continue
		}
		printHuman(w, f, rep, l, opts)
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
