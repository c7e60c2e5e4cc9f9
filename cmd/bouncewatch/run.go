package main

import (
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/bouncewatch/bouncewatch/internal/app"
	"github.com/bouncewatch/bouncewatch/internal/demo"
)

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signalContext(stderr)
	defer stop()
	a, cfg, log, code := openApp(ctx, stdout, stderr, "")
	if a == nil {
		return code
	}
	log.Info("starting", "mailbox", cfg.IMAPMailbox, "server", cfg.IMAPAddr, "user", cfg.IMAPUsername, "notify", cfg.Notify, "db", cfg.DB)
	if err := a.Run(ctx); err != nil {
		log.Error("stopped", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	once := fs.Bool("once", false, "stop when the seeded mail has been triaged and notified")
	dir := fs.String("mail", "", "directory of .eml files to seed the mailbox with (default: the built-in office morning)")
	wait := fs.Duration("group-wait", 2*time.Second, "how long to wait before the first notice of an incident")
	verbose := fs.Bool("v", false, "log what the pipeline does")
	page := fs.String("html", "", "with --once: also write the incidents' Slack messages (real Block Kit payloads) as an HTML page to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	level := "error"
	if *verbose {
		level = "debug"
	}
	ctx, stop := signalContext(stderr)
	defer stop()
	err := demo.Run(ctx, demo.Options{MailDir: *dir, Once: *once, Wait: *wait, Out: stdout, Logger: newLogger(stderr, "text", level), HTML: *page})
	if err != nil {
		fmt.Fprintln(stderr, "bouncewatch:", err)
		return 1
	}
	return 0
}

func cmdEnv(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("env", flag.ContinueOnError)
	fs.SetOutput(stderr)
	md := fs.Bool("markdown", false, "print a Markdown table (as in the README)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var cfg app.Config
	if *md {
		fmt.Fprint(stdout, envMarkdown())
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if err := envconfig.Usagef(app.EnvPrefix, &cfg, tw, envconfig.DefaultTableFormat); err != nil {
		fmt.Fprintln(stderr, "bouncewatch:", err)
		return 1
	}
	tw.Flush()
	return 0
}
