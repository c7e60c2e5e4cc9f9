package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

// metrics are bouncewatch's Prometheus metrics, on a registry of its own.
type metrics struct {
	reg         *prometheus.Registry
	bounces     *prometheus.CounterVec
	notices     *prometheus.CounterVec
	parseErrors prometheus.Counter
	truncated   prometheus.Counter
	unprocessed prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		bounces: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bouncewatch_bounces_total", Help: "Failed or delayed recipients seen, by reason and provider.",
		}, []string{"kind", "reason", "provider"}),
		notices: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bouncewatch_notifications_total", Help: "Notification attempts by target and result.",
		}, []string{"target", "result"}),
	}
	m.parseErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "bouncewatch_parse_errors_total", Help: "Messages recorded with a parse error (kept, not dropped).",
	})
	m.truncated = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "bouncewatch_recipients_truncated_total",
		Help: "Bounces that named more recipients than are recorded: only the first ones were recorded and notified.",
	})
	m.unprocessed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "bouncewatch_unprocessed_total",
		Help: "Messages that could not be recorded as they are: recorded as not processed, with the reason, and passed over.",
	})
	m.reg.MustRegister(m.bounces, m.notices, m.parseErrors, m.truncated, m.unprocessed, prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observeReports(reps []*bounce.Report) {
	for _, r := range reps {
		for _, rc := range r.Recipients {
			m.bounces.WithLabelValues(string(r.Kind), string(rc.Reason), rc.Provider).Inc()
		}
	}
}

func (m *metrics) notified(target string, ok bool) {
	res := "ok"
	if !ok {
		res = "failed"
	}
	m.notices.WithLabelValues(target, res).Inc()
}

// register adds the metrics that are read at scrape time from the watcher
// and the store.
func (a *App) registerGauges() {
	g := func(name, help string, f func() float64) {
		a.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	c := func(name, help string, f func() float64) {
		a.metrics.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
	}
	stats := func() (s struct{ seen, open, backlog float64 }) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if v, err := a.db.Stats(ctx); err == nil {
			s.seen, s.open, s.backlog = float64(v.MessagesSeen), float64(v.OpenIncidents), float64(v.OutboxBacklog)
		}
		return s
	}
	c("bouncewatch_messages_seen_total", "Messages recorded from the mailbox.", func() float64 { return stats().seen })
	g("bouncewatch_open_incidents", "Incidents not yet closed.", func() float64 { return stats().open })
	g("bouncewatch_outbox_backlog", "Notifications waiting to be delivered.", func() float64 { return stats().backlog })
	c("bouncewatch_imap_reconnects_total", "IMAP reconnections.", func() float64 { return float64(a.watcher.Status().Reconnects) })
	c("bouncewatch_imap_bytes_fetched_total", "Bytes of messages fetched over IMAP.", func() float64 { return float64(a.watcher.Status().BytesFetched) })
	g("bouncewatch_imap_connected", "1 while the IMAP session is up.", func() float64 {
		if a.watcher.Status().Connected {
			return 1
		}
		return 0
	})
	g("bouncewatch_imap_last_activity_age_seconds", "Seconds since the IMAP session last showed life (IDLE, probe, fetch).", func() float64 {
		t := a.watcher.Status().LastActivity
		if t.IsZero() {
			return -1
		}
		return a.opts.Now().Sub(t).Seconds()
	})
}

// serveHTTP serves /healthz, /readyz and /metrics until ctx is done.
func (a *App) serveHTTP(ctx context.Context) error {
	a.registerGauges()
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := a.ready(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.Handle("/metrics", promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Addr: a.cfg.HTTPAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	})
	defer stop()
	// The endpoints are not worth the watcher: when the address is taken
	// (another program, a second bouncewatch), say so once and keep trying.
	for attempt := 0; ; attempt++ {
		ln, err := net.Listen("tcp", a.cfg.HTTPAddr)
		if err == nil {
			if attempt > 0 {
				a.log.Info("http endpoints up", "addr", a.cfg.HTTPAddr)
			}
			err = srv.Serve(ln)
			if errors.Is(err, http.ErrServerClosed) {
				return ctx.Err()
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := min(time.Second<<min(attempt, 6), time.Minute)
		if attempt == 0 {
			a.log.Error("http endpoints (/healthz, /readyz, /metrics) unavailable; mail is still watched and binding is retried",
				"addr", a.cfg.HTTPAddr, "err", err)
		} else {
			a.log.Debug("http endpoints still unavailable", "addr", a.cfg.HTTPAddr, "attempt", attempt+1, "next", wait)
		}
		if !sleep(ctx, a.opts.Clock, wait) {
			return ctx.Err()
		}
	}
}

// CheckHTTP says whether the address of the HTTP endpoints can be bound
// now (for `check`): an error when another program holds it.
func (a *App) CheckHTTP() error {
	if a.cfg.HTTPAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", a.cfg.HTTPAddr)
	if err != nil {
		return err
	}
	return ln.Close()
}

// ready: the IMAP session is up and showed life within two probe intervals,
// and the database answers.
func (a *App) ready(ctx context.Context) error {
	st := a.watcher.Status()
	if !st.Connected {
		if st.LastError != "" {
			return errors.New("imap not connected: " + st.LastError)
		}
		return errors.New("imap not connected")
	}
	if age := a.opts.Now().Sub(st.LastActivity); age > 2*a.cfg.IMAPProbe+30*time.Second {
		return errors.New("imap session silent for " + age.Round(time.Second).String())
	}
	if err := a.db.Ping(ctx); err != nil {
		return errors.New("database: " + err.Error())
	}
	return nil
}
