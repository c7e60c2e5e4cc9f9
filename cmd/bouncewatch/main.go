// Command bouncewatch watches a shared mailbox for bounced mail and explains
// each failure in Japanese, with what to do next.
//
// main owns the environment, signals and exit codes; everything else lives
// in internal/ and takes what it needs as arguments.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/bouncewatch/bouncewatch/internal/app"
	"github.com/bouncewatch/bouncewatch/internal/logging"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprintln(w, `usage: bouncewatch COMMAND [ARGS]

commands:
  run                        watch the mailbox configured by BOUNCEWATCH_* variables
  check                      try the configuration: database, IMAP server, login and mailbox
  doctor [--json] [--domain D] [--ip IP]... [--selector S]...
                             check the sender domain and IPs (SPF, DMARC, PTR, blocklists) against
                             what Gmail, Yahoo and Outlook require of senders
  backfill [--since 30d]     import the mail already in the mailbox quietly, print one digest
  demo [--once]              run the whole pipeline on a built-in IMAP server seeded with an office's morning of bounces
  triage [--json] FILE...    explain bounce messages (- reads stdin; --lang en for English)
  env [--markdown]           list the configuration variables`)
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "triage":
		return cmdTriage(args[1:], stdin, stdout, stderr)
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "demo":
		return cmdDemo(args[1:], stdout, stderr)
	case "env":
		return cmdEnv(args[1:], stdout, stderr)
	case "backfill":
		return cmdBackfill(args[1:], stdout, stderr)
	case "check":
		return cmdCheck(args[1:], stdout, stderr)
	case "doctor":
		return cmdDoctor(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "bouncewatch: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

// signalContext is cancelled by the first SIGINT or SIGTERM (graceful stop);
// a second one exits at once.
func signalContext(stderr io.Writer) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ch
		fmt.Fprintln(stderr, "bouncewatch: stopping (send the signal again to force)")
		cancel()
		<-ch
		fmt.Fprintln(stderr, "bouncewatch: forced stop")
		os.Exit(1)
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

// newLogger builds the slog logger from LOG_FORMAT and LOG_LEVEL.
func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if strings.EqualFold(format, "json") {
		h = slog.NewJSONHandler(w, opts)
	}
	// Lines bounded, repeated warnings rate-limited (package logging).
	return slog.New(logging.New(h, logging.Options{}))
}

// openApp reads the configuration from the environment and builds the app
// with a logger at level ("" means LOG_LEVEL). On failure it has already
// printed why and returns the exit code (2).
func openApp(ctx context.Context, stdout, stderr io.Writer, level string) (*app.App, app.Config, *slog.Logger, int) {
	cfg, err := loadConfig()
	if err != nil {
		fmt.Fprintln(stderr, "bouncewatch:", err)
		return nil, cfg, nil, 2
	}
	if level == "" {
		level = cfg.LogLevel
	}
	log := newLogger(stderr, cfg.LogFormat, level)
	a, err := app.New(ctx, cfg, app.Options{Logger: log, Stdout: stdout})
	if err != nil {
		fmt.Fprintln(stderr, "bouncewatch:", err)
		return nil, cfg, nil, 2
	}
	return a, cfg, log, 0
}

// loadConfig reads the configuration from the environment, which main
// alone touches: a BOUNCEWATCH_* variable set to the empty string is
// removed first, so that its default applies (an env file or a Compose
// file often lists every variable, some empty).
func loadConfig() (app.Config, error) {
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); v == "" && app.EmptyMeansDefault(k) {
			os.Unsetenv(k)
		}
	}
	return app.LoadConfig()
}
