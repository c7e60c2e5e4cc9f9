package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/bouncewatch/bouncewatch/internal/notify"
)

// Handler receives what people do in Slack. The Listener calls it from one
// goroutine of its own, in arrival order, after the envelope was
// acknowledged; a slow handler delays later events but never the
// acknowledgements. ctx is the Listener's and ends when Run returns.
type Handler interface {
	// OnThreadReply is called for a person's message in a thread.
	// threadTS is the ts of the thread's parent message. text is as the
	// person typed it, in Slack's markup, untrusted.
	OnThreadReply(ctx context.Context, channel, threadTS, user, text string)
	// OnAction is called when one of our buttons is pressed: actionID is
	// ActionDetail, ActionMute or ActionResolve, value the incident ID in
	// decimal, messageTS the message that carries the button.
	OnAction(ctx context.Context, actionID, value, channel, messageTS, user string)
}

// ListenerConfig says how the Listener connects.
type ListenerConfig struct {
	AppToken   string       // app-level token (xapp-...) with connections:write; never logged
	BotToken   string       // bot token (xoxb-...), used to learn our own user ID; never logged
	BotUserID  string       // our bot's user ID; "" means ask auth.test
	APIURL     string       // Web API base URL ending in "/"; "" means Slack's
	HTTPClient *http.Client // nil means a client with a 30 s timeout
	QueueSize  int          // events waiting for the handler; 0 means 256; beyond it events are dropped and logged
}

// Listener receives Slack events over Socket Mode: it opens a connection
// with apps.connections.open, dials the WebSocket URL it returns,
// acknowledges every envelope at once and hands thread replies and button
// presses to a Handler. Socket Mode needs no public URL, which suits offices
// behind NAT.
type Listener struct {
	cfg ListenerConfig
	h   Handler
	log *slog.Logger
}

// NewListener returns a Listener. It does no I/O; Run connects.
func NewListener(cfg ListenerConfig, h Handler, log *slog.Logger) *Listener {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 256
	}
	return &Listener{cfg: cfg, h: h, log: log}
}

// Run connects and delivers events until ctx ends, reconnecting when Slack
// asks or the connection drops (with backoff, inside slack-go). It returns
// nil when ctx ends, and a classified error (see notify.Retryable) when it
// cannot go on: the tokens were refused (permanent) or the connection could
// not be kept (retryable). Run waits for a running handler call to return
// (handlers should honour ctx); the handler is not called after Run returns.
func (l *Listener) Run(ctx context.Context) error {
	api := newAPI(l.cfg.BotToken, l.cfg.APIURL, l.cfg.HTTPClient, slackgo.OptionAppLevelToken(l.cfg.AppToken))
	self := self{user: l.cfg.BotUserID}
	if self.user == "" {
		res, err := api.AuthTestContext(ctx)
		if err != nil {
			return classify("auth.test", err)
		}
		self = selfFrom(res)
	}

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()

	q := &queue{max: l.cfg.QueueSize, kick: make(chan struct{}, 1)}
	wg.Go(func() { l.work(ctx, q) })

	smc := socketmode.New(api)
	st := &runState{}
	runErr := make(chan error, 1)
	wg.Go(func() { runErr <- smc.RunContext(ctx) })

	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-runErr:
			if ctx.Err() != nil {
				return nil
			}
			return classifySocket(err)
		case evt := <-smc.Events:
			l.handle(ctx, smc, q, self, st, evt)
		}
	}
}

// self identifies our own bot, whose messages are ignored.
type self struct{ user, bot string }

func selfFrom(r *slackgo.AuthTestResponse) self { return self{user: r.UserID, bot: r.BotID} }

func classifySocket(err error) error {
	if err == nil {
		return notify.Temporary(errors.New("slack socket mode: connection ended"), 0)
	}
	switch err.Error() {
	case "invalid_auth", "account_inactive", "not_authed", "token_revoked", "not_allowed_token_type":
		return notify.Permanent(fmt.Errorf("slack socket mode: %w", err))
	}
	return classify("socket mode", err)
}

// runState is what one Run remembers between events (used by its event
// loop goroutine only).
type runState struct {
	lastConnErr string // the connection error last logged as a warning
}

// handle acknowledges an envelope and queues what the handler must see. It
// never blocks on the handler.
func (l *Listener) handle(ctx context.Context, smc *socketmode.Client, q *queue, me self, st *runState, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		l.log.DebugContext(ctx, "slack socket mode connecting")
	case socketmode.EventTypeConnected:
		l.log.InfoContext(ctx, "slack socket mode connected")
		st.lastConnErr = ""
	case socketmode.EventTypeConnectionError:
		if ce, ok := evt.Data.(*slackgo.ConnectionErrorEvent); ok {
			// Logged when it changes: a misconfiguration is said once,
			// not on every reconnection attempt.
			msg := fmt.Sprint(ce.ErrorObj)
			if msg != st.lastConnErr {
				l.log.WarnContext(ctx, "slack socket mode connection failed; retrying with backoff", "attempt", ce.Attempt, "backoff", ce.Backoff, "err", ce.ErrorObj)
				st.lastConnErr = msg
			} else {
				l.log.DebugContext(ctx, "slack socket mode connection failed again", "attempt", ce.Attempt, "backoff", ce.Backoff)
			}
		}
	case socketmode.EventTypeInvalidAuth:
		l.log.ErrorContext(ctx, "slack socket mode: app token refused")
	case socketmode.EventTypeErrorBadMessage, socketmode.EventTypeIncomingError, socketmode.EventTypeErrorWriteFailed:
		l.log.WarnContext(ctx, "slack socket mode message error", "type", string(evt.Type))
	}
	if evt.Request == nil || evt.Request.EnvelopeID == "" {
		return
	}
	// Acknowledge first: Slack retries envelopes not acknowledged within 3 s.
	if err := smc.AckCtx(ctx, evt.Request.EnvelopeID, nil); err != nil {
		l.log.WarnContext(ctx, "slack socket mode ack failed", "err", err)
	}
	switch data := evt.Data.(type) {
	case slackevents.EventsAPIEvent:
		if data.Type != slackevents.CallbackEvent {
			return
		}
		if m, ok := data.InnerEvent.Data.(*slackevents.MessageEvent); ok && isThreadReply(m, me) {
			ch, ts, user, text := m.Channel, m.ThreadTimeStamp, m.User, m.Text
			q.push(l.log, ctx, func(ctx context.Context) { l.h.OnThreadReply(ctx, ch, ts, user, text) })
		}
	case slackgo.InteractionCallback:
		if data.Type != slackgo.InteractionTypeBlockActions {
			return
		}
		channel := data.Channel.ID
		if channel == "" {
			channel = data.Container.ChannelID
		}
		msgTS := data.Container.MessageTs
		if msgTS == "" {
			msgTS = data.Message.Timestamp
		}
		user := data.User.ID
		for _, a := range data.ActionCallback.BlockActions {
			switch a.ActionID {
			case ActionDetail, ActionMute, ActionResolve:
				id, value := a.ActionID, a.Value
				q.push(l.log, ctx, func(ctx context.Context) { l.h.OnAction(ctx, id, value, channel, msgTS, user) })
			}
		}
	}
}

// isThreadReply says whether a message event is a person's reply in a
// thread: not a top-level message, not from a bot (ours or another), and
// not an edit, deletion, join or other subtype.
func isThreadReply(m *slackevents.MessageEvent, me self) bool {
	if m.ThreadTimeStamp == "" || m.ThreadTimeStamp == m.TimeStamp {
		return false
	}
	if m.BotID != "" || m.User == "" || m.User == me.user || (me.bot != "" && m.BotID == me.bot) {
		return false
	}
	switch m.SubType {
	case "", "thread_broadcast", "file_share":
		return true
	}
	return false
}

// work runs queued handler calls one at a time until ctx ends.
func (l *Listener) work(ctx context.Context, q *queue) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.kick:
		}
		for _, f := range q.take() {
			if ctx.Err() != nil {
				return
			}
			f(ctx)
		}
	}
}

// queue holds handler calls between the event loop and the worker.
type queue struct {
	mu    sync.Mutex
	items []func(context.Context)
	max   int
	kick  chan struct{}
}

func (q *queue) push(log *slog.Logger, ctx context.Context, f func(context.Context)) {
	q.mu.Lock()
	full := len(q.items) >= q.max
	if !full {
		q.items = append(q.items, f)
	}
	q.mu.Unlock()
	if full {
		log.WarnContext(ctx, "slack event dropped: handler queue full", "size", q.max)
		return
	}
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

func (q *queue) take() []func(context.Context) {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items
}
