package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/bouncewatch/bouncewatch/internal/notify/email"
	"github.com/bouncewatch/bouncewatch/internal/store"
)

// Commands a person can write in a reply to a summary (Japanese or English).
const (
	cmdDetail  = "detail"  // 詳細: every bounce of the incident, in full
	cmdRaw     = "raw"     // 原文: the same, with the original bounces attached
	cmdMute    = "mute"    // 停止 [期間]: no more notices of this incident for a while
	cmdResolve = "resolve" // 解決: close the incident
)

// defaultMute is how long 停止 / mute silences an incident without a duration.
const defaultMute = 24 * time.Hour

// changesState says whether a command changes the incident (as opposed to
// asking for information).
func changesState(cmd string) bool { return cmd == cmdMute || cmd == cmdResolve }

// Caps on answers by mail, per hour. A flood of replies (from one person,
// with +tags, or about one incident) gets a handful of answers; the rest are
// recorded and left unanswered.
const (
	answersPerAddress  = 5  // per email.NormalAddress
	answersPerIncident = 10 // per incident, all senders
	answersInAll       = 30 // everything

	maxRateKeys = 1000 // above this many remembered keys, stale ones are dropped
)

// replyPayload is the outbox payload of a reply to answer.
type replyPayload struct {
	Command   string    `json:"command"`
	MuteUntil time.Time `json:"mute_until,omitempty"`
	// Refused: a command that changes state, from a sender the mailbox
	// server did not authenticate; it was not applied, the answer says why.
	Refused    bool     `json:"refused,omitempty"`
	From       string   `json:"from"`
	MessageID  string   `json:"message_id"`
	References []string `json:"references,omitempty"`
	Subject    string   `json:"subject"`
}

// tokenStore is where replies look up when a token was issued.
type tokenStore interface {
	Token(ctx context.Context, token string) (incidentID int64, issued time.Time, err error)
}

// replies recognises replies to our summaries in the watched mailbox and
// turns the acceptable ones into requests, recorded with the message.
type replies struct {
	key        []byte
	tokens     tokenStore
	allow      []string // lowercase domains or addresses
	own        []string // our own addresses: never answered
	authservID string   // trusted authserv-id of Authentication-Results; "" trusts none
	tokenTTL   time.Duration
	log        *slog.Logger

	// The rate limits live in memory only: a restart starts them afresh
	// (documented in the README), which allows at most one more hour's
	// answers per restart.
	mu      sync.Mutex
	answers map[string][]time.Time // rate-limit key -> times of answers
	limited map[string]bool        // rate-limit keys whose refusal was logged at warn level
}

func newReplies(key []byte, tokens tokenStore, cfg Config, log *slog.Logger) *replies {
	r := &replies{key: key, tokens: tokens, log: log, answers: map[string][]time.Time{}, limited: map[string]bool{},
		own: []string{cfg.SMTPFrom, cfg.IMAPUsername}, authservID: cfg.ReplyAuthserv, tokenTTL: cfg.ReplyTokenTTL}
	if r.tokenTTL <= 0 {
		r.tokenTTL = 30 * 24 * time.Hour
	}
	for _, a := range strings.Split(cfg.ReplyAllow, ",") {
		if a = strings.ToLower(strings.TrimSpace(a)); a != "" {
			r.allow = append(r.allow, strings.TrimPrefix(a, "@"))
		}
	}
	if len(r.allow) == 0 {
		if d := email.Domain(cfg.IMAPUsername); d != "" {
			r.allow = []string{strings.ToLower(d)}
		}
	}
	return r
}

// isReply reports, from the header alone, whether a message answers one of
// our summaries (its In-Reply-To or References carries a valid token).
func (r *replies) isReply(header []byte) bool {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(header)))
	if err != nil {
		return false
	}
	_, ok := email.FindToken(r.key, gomail.Header{Header: message.Header{Header: h}})
	return ok
}

// request decides what to do with a message: nil when it is not a reply to
// us or must be left alone (forged, from a stranger, machine-written, its
// token unknown or expired, its sender not authenticated where the server
// says, over a rate limit); each refusal is logged. A reply that asks to
// change the incident (停止, 解決) carries the change, applied in the
// transaction that records it; where the server gives no authentication
// results, such a command is answered with a refusal instead. It returns an
// error only when the token cannot be looked up (the store's I/O).
func (r *replies) request(ctx context.Context, raw []byte, now time.Time) (*store.Request, error) {
	ent, _ := message.Read(bytes.NewReader(raw))
	if ent == nil {
		return nil, nil
	}
	h := gomail.Header{Header: ent.Header}
	token, incID, ok := email.FindReplyToken(r.key, h)
	if !ok {
		if hasOurShape(h) {
			r.log.Warn("reply ignored: its reference to a summary does not verify (forged or altered)", "message_id", h.Get("Message-Id"))
		}
		return nil, nil
	}
	from := ""
	list, err := h.AddressList("From")
	if err == nil && len(list) == 1 {
		from = list[0].Address
	}
	switch {
	case email.AutoGenerated(h):
		r.log.Info("reply ignored: written by a machine (auto-reply, bounce or list)", "incident", incID, "from", from)
		return nil, nil
	case from == "" || email.Suppress(from, r.own...):
		r.log.Info("reply ignored: no answerable sender (one From address is needed)", "incident", incID, "from", from)
		return nil, nil
	case !r.allowed(from):
		r.log.Warn("reply ignored: sender not allowed (BOUNCEWATCH_REPLY_ALLOW)", "incident", incID, "from", from)
		return nil, nil
	}
	tokInc, issued, err := r.tokens.Token(ctx, token)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && tokInc != incID:
		r.log.Warn("reply ignored: its summary is unknown to this database (recreated or restored?)", "incident", incID, "from", from)
		return nil, nil
	case err != nil:
		return nil, err
	case now.Sub(issued) > r.tokenTTL:
		r.log.Info("reply ignored: its summary is older than BOUNCEWATCH_REPLY_TOKEN_TTL", "incident", incID, "from", from,
			"issued", issued)
		return nil, nil
	}
	verdict := email.CheckAuth(h, r.authservID, email.Domain(from))
	if verdict == email.AuthFail {
		r.log.Warn("reply ignored: the mailbox server did not authenticate its sender (SPF/DKIM/DMARC)", "incident", incID, "from", from)
		return nil, nil
	}
	if !r.allow3(from, incID, now) {
		return nil, nil
	}
	cmd, d := parseCommand(replyText(ent))
	p := replyPayload{Command: cmd, From: from, MessageID: strings.Trim(h.Get("Message-Id"), "<> ")}
	p.Subject, _ = h.Subject()
	if refs, err := h.MsgIDList("References"); err == nil {
		p.References = refs
	}
	rq := &store.Request{IncidentID: incID, Target: store.TargetEmail, Kind: store.KindReply, Actor: from}
	switch {
	case changesState(cmd) && verdict != email.AuthPass:
		p.Refused = true
		r.log.Info("reply command refused: sender not authenticated by the mailbox server; answered to use Slack", "incident", incID,
			"from", from, "command", cmd)
	case cmd == cmdMute:
		p.MuteUntil = now.Add(d)
		rq.MuteUntil = p.MuteUntil
	case cmd == cmdResolve:
		rq.Resolve = true
	}
	rq.Payload, _ = json.Marshal(p)
	r.log.Info("reply to a summary", "incident", incID, "from", from, "command", cmd, "auth", string(verdict))
	return rq, nil
}

// allow3 applies the three rate limits and, when all allow, counts an
// answer. The first refusal of a key in a window is logged at warn level,
// the rest at debug: a flood does not flood the log.
func (r *replies) allow3(from string, incID int64, now time.Time) bool {
	keys := []struct {
		key  string
		rate email.RateLimit
		what string
	}{
		{"addr:" + email.NormalAddress(from), email.RateLimit{Max: answersPerAddress, Per: time.Hour}, "this sender"},
		{"incident:" + strconv.FormatInt(incID, 10), email.RateLimit{Max: answersPerIncident, Per: time.Hour}, "this incident"},
		{"all", email.RateLimit{Max: answersInAll, Per: time.Hour}, "all senders"},
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.answers) > maxRateKeys {
		// Bounded memory: forget keys with no answer in the last hour.
		for k, ts := range r.answers {
			if len(ts) == 0 || now.Sub(ts[len(ts)-1]) > time.Hour {
				delete(r.answers, k)
				delete(r.limited, k)
			}
		}
	}
	for _, k := range keys {
		if ok, _ := k.rate.Allow(r.answers[k.key], now); !ok {
			level := slog.LevelDebug
			if !r.limited[k.key] {
				level = slog.LevelWarn
				r.limited[k.key] = true
			}
			r.log.Log(context.Background(), level, "reply ignored: too many requests from "+k.what+" (further ones are logged at debug level)",
				"incident", incID, "from", from)
			return false
		}
	}
	for _, k := range keys {
		since := now.Add(-k.rate.Per)
		kept := r.answers[k.key][:0]
		for _, t := range r.answers[k.key] {
			if t.After(since) {
				kept = append(kept, t)
			}
		}
		r.answers[k.key] = append(kept, now)
		delete(r.limited, k.key)
	}
	return true
}

func (r *replies) allowed(addr string) bool {
	a := strings.ToLower(addr)
	d := strings.ToLower(email.Domain(addr))
	for _, x := range r.allow {
		if x == a || x == d {
			return true
		}
	}
	return false
}

// hasOurShape: the message references something that looks like our
// Message-IDs (for logging forged replies).
func hasOurShape(h gomail.Header) bool {
	s := strings.ToLower(h.Get("In-Reply-To") + " " + h.Get("References"))
	return strings.Contains(s, "<bw.") || strings.Contains(s, "bouncewatch")
}

// replyText is the reply's own words: the first text/plain part, without
// quoted lines or the quoted original below them.
func replyText(ent *message.Entity) string {
	var text string
	var walk func(e *message.Entity, depth int)
	walk = func(e *message.Entity, depth int) {
		if text != "" || depth > 5 {
			return
		}
		if mr := e.MultipartReader(); mr != nil {
			for {
				p, err := mr.NextPart()
				if err != nil || p == nil {
					return
				}
				walk(p, depth+1)
			}
		}
		mt, _, _ := e.Header.ContentType()
		if mt == "" || mt == "text/plain" {
			b, _ := io.ReadAll(io.LimitReader(e.Body, 64<<10))
			text = string(b)
		}
	}
	walk(ent, 0)
	var out []string
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, ">") {
			continue
		}
		lt := strings.ToLower(t)
		if strings.HasPrefix(lt, "-----original message") || strings.HasPrefix(t, "差出人:") || strings.HasPrefix(t, "From:") ||
			strings.HasPrefix(lt, "on ") && strings.HasSuffix(lt, "wrote:") || strings.HasSuffix(t, "書きました:") || strings.HasPrefix(t, "-- ") {
			break
		}
		out = append(out, t)
		if len(out) > 30 {
			break
		}
	}
	return strings.Join(out, "\n")
}

var durationRe = regexp.MustCompile(`(\d+)\s*(時間|h|hours?|hrs?|日|d|days?|分|m|min|minutes?|週間|w|weeks?)`)

// parseCommand reads the command of a reply; 詳細 / detail is the default.
// 停止 / mute takes an optional duration (停止 3日, mute 8h); default 24 hours.
func parseCommand(text string) (cmd string, mute time.Duration) {
	lt := strings.ToLower(text)
	switch {
	case containsWord(lt, "停止", "ミュート", "mute", "stop", "silence"):
		cmd, mute = cmdMute, defaultMute
		if m := durationRe.FindStringSubmatch(lt); m != nil {
			n, _ := strconv.Atoi(m[1])
			unit := map[string]time.Duration{"時間": time.Hour, "h": time.Hour, "hour": time.Hour, "hours": time.Hour, "hr": time.Hour, "hrs": time.Hour,
				"日": 24 * time.Hour, "d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
				"分": time.Minute, "m": time.Minute, "min": time.Minute, "minute": time.Minute, "minutes": time.Minute,
				"週間": 7 * 24 * time.Hour, "w": 7 * 24 * time.Hour, "week": 7 * 24 * time.Hour, "weeks": 7 * 24 * time.Hour}[m[2]]
			if n > 0 && unit > 0 {
				mute = min(time.Duration(n)*unit, 90*24*time.Hour)
			}
		}
	case containsWord(lt, "解決", "resolve", "resolved", "close", "done"):
		cmd = cmdResolve
	case containsWord(lt, "原文", "raw", "original", "eml"):
		cmd = cmdRaw
	default:
		cmd = cmdDetail
	}
	return cmd, mute
}

func containsWord(s string, words ...string) bool {
	for _, w := range words {
		if w[0] >= 0x80 { // Japanese: a plain substring
			if strings.Contains(s, w) {
				return true
			}
			continue
		}
		for _, f := range strings.FieldsFunc(s, func(r rune) bool { return !(r >= 'a' && r <= 'z') }) {
			if f == w {
				return true
			}
		}
	}
	return false
}
