// Package slack owns delivery of bouncewatch notifications to Slack: it
// renders an incident as Block Kit (Blocks), posts, edits in place and
// replies in threads through the Web API (Notifier), classifying every
// failure as retryable or not, and listens over Socket Mode for thread
// replies and button presses (Listener). It decides nothing about when to
// notify; the app's outbox loop does.
package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/bouncewatch/bouncewatch/internal/notify"
)

// Config says where and as whom the Notifier posts.
type Config struct {
	Token      string       // bot token (xoxb-...); never logged
	APIURL     string       // Web API base URL ending in "/"; "" means Slack's
	HTTPClient *http.Client // nil means a client with a 30 s timeout
	// Now is the clock of the workspace gate; nil means time.Now.
	Now func() time.Time
	// Backoff is the first pause of the workspace after a retryable failure
	// that came without Retry-After (doubling per consecutive failure, up
	// to 5 minutes); 0 means 1 s.
	Backoff time.Duration
}

// Notifier posts and edits incident messages. It never retries on its own:
// every error it returns is classified (see notify.Retryable) and the caller
// decides. Rate limits and outages apply to the whole workspace: after a
// 429 (for its Retry-After) or another retryable failure (for a backoff),
// every call fails at once, without a request, with an error that wraps
// notify.ErrNotAttempted and says how long the pause lasts. Safe for
// concurrent use; one Notifier per workspace token.
type Notifier struct {
	api  *slackgo.Client
	log  *slog.Logger
	gate *gate
}

// New returns a Notifier. It does no I/O.
func New(cfg Config, log *slog.Logger) *Notifier {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	return &Notifier{api: newAPI(cfg.Token, cfg.APIURL, cfg.HTTPClient), log: log, gate: &gate{now: cfg.Now, base: cfg.Backoff}}
}

// call makes one Web API request through the workspace gate and returns
// its classified error.
func (s *Notifier) call(op string, f func() error) error {
	if err := s.gate.enter(op); err != nil {
		return err
	}
	err := f()
	if err != nil {
		err = classify(op, err)
	}
	s.gate.leave(err)
	return err
}

func newAPI(token, apiURL string, hc *http.Client, opts ...slackgo.Option) *slackgo.Client {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	o := []slackgo.Option{slackgo.OptionHTTPClient(hc)} // no OptionRetry: retries are the caller's
	if apiURL != "" {
		o = append(o, slackgo.OptionAPIURL(apiURL))
	}
	return slackgo.New(token, append(o, opts...)...)
}

// Post sends the notice as a new message in channel and returns its ts,
// which later Update and Reply calls use.
func (s *Notifier) Post(ctx context.Context, channel string, n notify.Notice) (string, error) {
	blocks, text := Blocks(n)
	var ts string
	err := s.call("chat.postMessage", func() (err error) {
		_, ts, err = s.api.PostMessageContext(ctx, channel, msgOptions(blocks, text)...)
		return err
	})
	if err != nil {
		return "", err
	}
	return ts, nil
}

// metadataType is the event_type of the metadata that PostKeyed attaches.
const metadataType = "bouncewatch_notice"

// PostKeyed is Post with an idempotency key attached to the message as
// metadata, so that FindPosted can tell whether an earlier attempt whose
// answer was lost did post it.
func (s *Notifier) PostKeyed(ctx context.Context, channel, key string, n notify.Notice) (string, error) {
	blocks, text := Blocks(n)
	return s.PostBlocksKeyed(ctx, channel, key, blocks, text)
}

// PostBlocksKeyed is PostKeyed for blocks rendered by the caller (a digest).
func (s *Notifier) PostBlocksKeyed(ctx context.Context, channel, key string, blocks []slackgo.Block, text string) (string, error) {
	opts := msgOptions(blocks, text)
	if key != "" {
		opts = append(opts, slackgo.MsgOptionMetadata(slackgo.SlackMetadata{EventType: metadataType, EventPayload: map[string]any{"key": key}}))
	}
	var ts string
	err := s.call("chat.postMessage", func() (err error) {
		_, ts, err = s.api.PostMessageContext(ctx, channel, opts...)
		return err
	})
	if err != nil {
		return "", err
	}
	return ts, nil
}

// FindPosted looks among channel's messages since the given time for one
// posted by PostKeyed with key and returns its ts. It reads the newest 200
// messages (conversations.history; needs channels:history or
// groups:history). Its errors are classified; a permanent one (a missing
// scope) means the question cannot be answered.
func (s *Notifier) FindPosted(ctx context.Context, channel, key string, since time.Time) (string, bool, error) {
	var res *slackgo.GetConversationHistoryResponse
	err := s.call("conversations.history", func() (err error) {
		res, err = s.api.GetConversationHistoryContext(ctx, &slackgo.GetConversationHistoryParameters{
			ChannelID: channel, Oldest: fmt.Sprintf("%d.000000", since.Unix()), Limit: 200, IncludeAllMetadata: true,
		})
		return err
	})
	if err != nil {
		return "", false, err
	}
	for _, m := range res.Messages {
		if m.Metadata.EventType == metadataType && m.Metadata.EventPayload["key"] == key {
			return m.Timestamp, true, nil
		}
	}
	return "", false, nil
}

// FindReply looks in a thread for a reply posted by ReplyKeyed with key and
// returns its ts (conversations.replies; needs channels:history or
// groups:history). Its errors are classified.
func (s *Notifier) FindReply(ctx context.Context, channel, threadTS, key string) (string, bool, error) {
	var msgs []slackgo.Message
	err := s.call("conversations.replies", func() (err error) {
		msgs, _, _, err = s.api.GetConversationRepliesContext(ctx, &slackgo.GetConversationRepliesParameters{
			ChannelID: channel, Timestamp: threadTS, Limit: 200, IncludeAllMetadata: true,
		})
		return err
	})
	if err != nil {
		return "", false, err
	}
	for _, m := range msgs {
		if m.Metadata.EventType == metadataType && m.Metadata.EventPayload["key"] == key {
			return m.Timestamp, true, nil
		}
	}
	return "", false, nil
}

// UpdateOutcome says how Update delivered the notice.
type UpdateOutcome int

// Outcomes of Update.
const (
	Edited   UpdateOutcome = iota // the message was edited in place; ts is unchanged
	Replied                       // the message can no longer be edited; the notice was posted in its thread
	Reposted                      // the message is gone; the notice was posted as a new message, whose ts replaces the old one
)

func (o UpdateOutcome) String() string {
	switch o {
	case Edited:
		return "edited"
	case Replied:
		return "replied"
	case Reposted:
		return "reposted"
	}
	return fmt.Sprintf("UpdateOutcome(%d)", int(o))
}

// Update edits the message at ts to show the notice and returns ts. When
// Slack refuses the edit (edit_window_closed, cant_update_message) it posts
// the notice as a reply in the message's thread instead and returns the
// reply's ts with Replied; when the message is gone (message_not_found) it
// posts a new message and returns its ts with Reposted.
func (s *Notifier) Update(ctx context.Context, channel, ts string, n notify.Notice) (string, UpdateOutcome, error) {
	blocks, text := Blocks(n)
	return s.UpdateBlocks(ctx, channel, ts, blocks, text)
}

// UpdateBlocks is Update for blocks rendered by the caller (a digest).
func (s *Notifier) UpdateBlocks(ctx context.Context, channel, ts string, blocks []slackgo.Block, text string) (string, UpdateOutcome, error) {
	if err := s.gate.enter("chat.update"); err != nil {
		return "", Edited, err
	}
	_, _, _, err := s.api.UpdateMessageContext(ctx, channel, ts, msgOptions(blocks, text)...)
	if err == nil {
		s.gate.leave(nil)
		return ts, Edited, nil
	}
	s.gate.leave(classify("chat.update", err))
	var se slackgo.SlackErrorResponse
	if !errors.As(err, &se) {
		return "", Edited, classify("chat.update", err)
	}
	switch se.Err {
	case "edit_window_closed", "cant_update_message":
		s.log.DebugContext(ctx, "slack message not editable, replying in thread", "reason", se.Err, "channel", channel, "ts", ts)
		rts, err := s.Reply(ctx, channel, ts, text, blocks)
		return rts, Replied, err
	case "message_not_found":
		s.log.DebugContext(ctx, "slack message gone, posting anew", "channel", channel, "ts", ts)
		nts, err := s.PostBlocksKeyed(ctx, channel, "", blocks, text)
		return nts, Reposted, err
	}
	return "", Edited, classify("chat.update", err)
}

// Reply posts text, and blocks when given, in the thread of threadTS and
// returns the reply's ts. text must already be mrkdwn-safe (see Blocks for
// rendered notices; plain strings from users or bounces need escaping).
func (s *Notifier) Reply(ctx context.Context, channel, threadTS, text string, blocks []slackgo.Block) (string, error) {
	return s.ReplyKeyed(ctx, channel, threadTS, "", text, blocks)
}

// ReplyKeyed is Reply with a key carried in the message's metadata, so that
// FindReply can tell, after an answer from Slack was lost, whether the reply
// was posted.
func (s *Notifier) ReplyKeyed(ctx context.Context, channel, threadTS, key, text string, blocks []slackgo.Block) (string, error) {
	opts := append(msgOptions(blocks, text), slackgo.MsgOptionTS(threadTS))
	if key != "" {
		opts = append(opts, slackgo.MsgOptionMetadata(slackgo.SlackMetadata{EventType: metadataType, EventPayload: map[string]any{"key": key}}))
	}
	var ts string
	err := s.call("chat.postMessage", func() (err error) {
		_, ts, err = s.api.PostMessageContext(ctx, channel, opts...)
		return err
	})
	if err != nil {
		return "", err
	}
	return ts, nil
}

func msgOptions(blocks []slackgo.Block, text string) []slackgo.MsgOption {
	opts := []slackgo.MsgOption{
		slackgo.MsgOptionText(text, false),
		slackgo.MsgOptionDisableLinkUnfurl(),
		slackgo.MsgOptionDisableMediaUnfurl(),
	}
	if len(blocks) > 0 {
		opts = append(opts, slackgo.MsgOptionBlocks(blocks...))
	}
	return opts
}

// retryableCode says whether a Slack error code is worth retrying; every
// other code is permanent (invalid_auth, channel_not_found, not_in_channel,
// invalid_blocks, ...).
func retryableCode(code string) bool {
	switch code {
	case "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout":
		return true
	}
	return false
}

// classify wraps err from the Web API method op as a notify.Error.
func classify(op string, err error) error {
	werr := fmt.Errorf("slack %s: %w", op, err)
	if rl, ok := errors.AsType[*slackgo.RateLimitedError](err); ok {
		return notify.Temporary(werr, rl.RetryAfter)
	}
	if sc, ok := errors.AsType[slackgo.StatusCodeError](err); ok {
		if sc.Code >= 500 || sc.Code == http.StatusTooManyRequests || sc.Code == http.StatusRequestTimeout {
			return notify.Temporary(werr, 0)
		}
		return notify.Permanent(werr)
	}
	if se, ok := errors.AsType[slackgo.SlackErrorResponse](err); ok {
		if retryableCode(se.Err) {
			return notify.Temporary(werr, 0)
		}
		return notify.Permanent(werr)
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return notify.Temporary(werr, 0)
	}
	// Unreadable responses, cancellation and the like: not delivered, may work later.
	return notify.Temporary(werr, 0)
}
