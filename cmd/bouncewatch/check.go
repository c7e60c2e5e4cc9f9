package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"
)

// cmdCheck tries the configuration once: the database opens, and the IMAP
// server accepts the TLS connection, the credentials and the mailbox. It is
// the first thing to run after setting the variables.
func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signalContext(stderr)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	a, cfg, _, code := openApp(ctx, io.Discard, stderr, "error")
	if a == nil {
		return code
	}
	defer a.DB().Close()
	fmt.Fprintf(stdout, "データベース / database: %s ... ok\n", cfg.DB)
	if cfg.HTTPAddr != "" {
		// Not a failure: run watches mail without the endpoints and keeps
		// trying to bind; this may also be a running bouncewatch.
		if err := a.CheckHTTP(); err != nil {
			fmt.Fprintf(stdout, "HTTP %s (/healthz, /readyz, /metrics) ... 使用中 / port busy: %v\n"+
				"  bouncewatch run が動いていれば問題ありません。他のプログラムなら BOUNCEWATCH_HTTP_ADDR を変えてください。\n"+
				"  (fine if bouncewatch run is already running; otherwise set BOUNCEWATCH_HTTP_ADDR to a free port)\n", cfg.HTTPAddr, err)
		} else {
			fmt.Fprintf(stdout, "HTTP %s (/healthz, /readyz, /metrics) ... ok\n", cfg.HTTPAddr)
		}
	}
	info, err := a.Watcher().Probe(ctx)
	if err != nil {
		fmt.Fprintf(stdout, "IMAP %s (%s, %s) ... 失敗 / failed: %v\n", cfg.IMAPAddr, cfg.IMAPTLS, cfg.IMAPUsername, err)
		return 1
	}
	fmt.Fprintf(stdout, "IMAP %s (%s, %s) ... ok: %s に %d 通 / %d messages in %s\n",
		cfg.IMAPAddr, cfg.IMAPTLS, cfg.IMAPUsername, cfg.IMAPMailbox, info.Messages, info.Messages, cfg.IMAPMailbox)
	fmt.Fprintln(stdout, "通知先 / notify:", cfg.Notify)
	return 0
}
