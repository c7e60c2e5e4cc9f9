// Package slacktest is a local fake of the Slack Web API and Socket Mode for
// tests. It owns one httptest server that answers chat.postMessage,
// chat.update, auth.test and apps.connections.open (whose URL points at a
// Socket Mode websocket on the same server), records what it is sent,
// checks it against Slack's Block Kit limits, fails on request (per method:
// 429 with Retry-After, 5xx, ok:false errors; for the next N calls or until
// released), and lets a test push Socket Mode envelopes (thread replies,
// button presses) and see which were acknowledged.
//
// It imports nothing of bouncewatch, so the slack package's own tests can
// use it too.
package slacktest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/gorilla/websocket"
)

// Credentials and identities the fake accepts and reports.
const (
	BotToken = "xoxb-test-bot"
	AppToken = "xapp-test-app"
	BotUser  = "UBOT" // auth.test user_id
	BotID    = "BBOT" // auth.test bot_id
	Team     = "T1"
)

// Slack's limits that every recorded message is checked against (lengths in
// UTF-16 code units, never less than Slack's count).
const (
	MaxBlocks      = 50
	MaxSectionText = 3000
	MaxFieldText   = 2000
	MaxFields      = 10
	MaxHeaderText  = 150
	MaxButtonText  = 75
)

// Web API methods the fake serves.
const (
	PostMessage     = "chat.postMessage"
	Update          = "chat.update"
	AuthTest        = "auth.test"
	History         = "conversations.history"
	ThreadReplies   = "conversations.replies"
	ConnectionsOpen = "apps.connections.open"
)

// Call is one successful chat.postMessage or chat.update.
type Call struct {
	Method   string
	Channel  string
	TS       string // the message's ts: assigned for posts, the edited one for updates
	ThreadTS string // set for replies in a thread
	Text     string // fallback text
	Blocks   []map[string]any
	Metadata map[string]any // message metadata (event_type, event_payload), nil when none
	At       time.Time
}

// Content is the call's fallback text and every text in its blocks, joined
// by newlines: what a person would read.
func (c Call) Content() string {
	var b strings.Builder
	b.WriteString(c.Text)
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if s, ok := x["text"].(string); ok {
				b.WriteString("\n" + s)
			}
			for k, e := range x {
				if k != "text" || !isString(e) {
					walk(e)
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	for _, bl := range c.Blocks {
		walk(bl)
	}
	return b.String()
}

func isString(v any) bool { _, ok := v.(string); return ok }

// Failure is an answer given instead of success.
type Failure struct {
	Status     int    // HTTP status (e.g. 429, 500); 0 means 200 with ok:false
	RetryAfter string // Retry-After header, e.g. "1"
	SlackErr   string // error code of an ok:false answer (Status 0)
	// Lost makes the call take effect (a post is recorded) but its answer
	// get lost: the client sees Status (default 502) as if the connection
	// broke after Slack acted.
	Lost bool
}

// Convenient failures.
var (
	RateLimited  = Failure{Status: http.StatusTooManyRequests, RetryAfter: "1"}
	ServerError  = Failure{Status: http.StatusInternalServerError}
	Unavailable  = Failure{Status: http.StatusServiceUnavailable}
	InternalErr  = Failure{SlackErr: "internal_error"}
	ChannelGone  = Failure{SlackErr: "channel_not_found"}
	NotEditable  = Failure{SlackErr: "cant_update_message"}
	MessageGone  = Failure{SlackErr: "message_not_found"}
	InvalidBlock = Failure{SlackErr: "invalid_blocks"}
	AnswerLost   = Failure{Status: http.StatusBadGateway, Lost: true}
	MissingScope = Failure{SlackErr: "missing_scope"}
)

// Server is a running fake. Create it with New; it stops when the test ends.
type Server struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	closed   bool
	seq      int
	posts    []Call
	updates  []Call
	attempts map[string]int       // every request per method, failed ones included
	queued   map[string][]Failure // method -> failures to give next, in order
	down     map[string]*Failure  // method -> failure given until released
	opens    int
	acks     []string
	ackc     chan struct{}

	frames chan []byte // envelopes for the Socket Mode connection
}

// New starts a fake on 127.0.0.1 and closes it in t.Cleanup.
func New(t testing.TB) *Server {
	s := &Server{
		t: t, attempts: map[string]int{}, queued: map[string][]Failure{}, down: map[string]*Failure{},
		frames: make(chan []byte, 256), ackc: make(chan struct{}, 1),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/"+AuthTest, s.authTest)
	mux.HandleFunc("/api/"+PostMessage, func(w http.ResponseWriter, r *http.Request) { s.chat(w, r, PostMessage) })
	mux.HandleFunc("/api/"+Update, func(w http.ResponseWriter, r *http.Request) { s.chat(w, r, Update) })
	mux.HandleFunc("/api/"+ConnectionsOpen, s.open)
	mux.HandleFunc("/api/"+History, s.history)
	mux.HandleFunc("/api/"+ThreadReplies, s.threadReplies)
	mux.HandleFunc("/ws", s.socket)
	s.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
	return s
}

// APIURL is the Web API base URL (ending in "/") to configure the client with.
func (s *Server) APIURL() string { return s.srv.URL + "/api/" }

// Handler is the fake's HTTP handler, for a client that reaches it without
// a network: inside a testing/synctest bubble, where time only moves while
// every goroutine waits on something the bubble controls (a real socket is
// not), a test gives its client a transport that calls Handler directly.
// Create the Server outside the bubble.
func (s *Server) Handler() http.Handler { return s.srv.Config.Handler }

// FailNext makes the next calls of method fail with fs, one each, in order.
func (s *Server) FailNext(method string, fs ...Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queued[method] = append(s.queued[method], fs...)
}

// FailTimes makes the next n calls of method fail with f.
func (s *Server) FailTimes(method string, n int, f Failure) {
	fs := make([]Failure, n)
	for i := range fs {
		fs[i] = f
	}
	s.FailNext(method, fs...)
}

// Down makes every call of method fail with f (after any FailNext ones)
// until release is called: Slack being down for a while.
func (s *Server) Down(method string, f Failure) (release func()) {
	s.mu.Lock()
	s.down[method] = &f
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.down, method)
		s.mu.Unlock()
	}
}

// Attempts is how many requests of method arrived, failed ones included.
func (s *Server) Attempts(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[method]
}

// Posts returns the successful top-level chat.postMessage calls (not in a thread).
func (s *Server) Posts() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(s.posts), func(c Call) bool { return c.ThreadTS != "" })
}

// Replies returns the successful chat.postMessage calls in a thread.
func (s *Server) Replies() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(s.posts), func(c Call) bool { return c.ThreadTS == "" })
}

// Updates returns the successful chat.update calls.
func (s *Server) Updates() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.updates)
}

// Latest returns what the message at ts shows now: its post, or the last
// update of it. ok is false when no message has that ts.
func (s *Server) Latest(ts string) (Call, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out Call
	ok := false
	for _, c := range s.posts {
		if c.TS == ts {
			out, ok = c, true
		}
	}
	for _, c := range s.updates {
		if c.TS == ts {
			out, ok = c, true
		}
	}
	return out, ok
}

// Connections is how many Socket Mode connections were opened.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens
}

// Acks returns the envelope IDs acknowledged so far, in order.
func (s *Server) Acks() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.acks)
}

// Acked reports whether the envelope was acknowledged.
func (s *Server) Acked(envelopeID string) bool {
	return slices.Contains(s.Acks(), envelopeID)
}

// Push queues a raw Socket Mode frame for the (current or next) connection.
func (s *Server) Push(frame []byte) {
	select {
	case s.frames <- frame:
	default:
		s.t.Errorf("slacktest: too many frames pushed and not sent")
	}
}

// PushThreadReply pushes an events_api envelope of a person's message in the
// thread of threadTS; ts is the reply's own ts.
func (s *Server) PushThreadReply(envelopeID, channel, threadTS, ts, user, text string) {
	ev := map[string]any{"type": "message", "channel": channel, "user": user, "text": text, "ts": ts, "thread_ts": threadTS}
	s.Push(eventEnvelope(envelopeID, ev))
}

// PushBotThreadReply pushes a message in a thread written by another bot.
func (s *Server) PushBotThreadReply(envelopeID, channel, threadTS, ts, botID, text string) {
	ev := map[string]any{"type": "message", "subtype": "bot_message", "channel": channel, "bot_id": botID, "text": text,
		"ts": ts, "thread_ts": threadTS}
	s.Push(eventEnvelope(envelopeID, ev))
}

// PushEvent pushes an events_api envelope carrying ev as its event, for
// events the helpers above do not build (a top-level message, the bot's own).
func (s *Server) PushEvent(envelopeID string, ev map[string]any) {
	s.Push(eventEnvelope(envelopeID, ev))
}

func eventEnvelope(id string, ev map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{
		"envelope_id": id, "type": "events_api", "accepts_response_payload": false,
		"payload": map[string]any{
			"token": "t", "team_id": Team, "api_app_id": "A1", "type": "event_callback",
			"event_id": "Ev" + id, "event_time": time.Now().Unix(), "event": ev,
		},
	})
	return b
}

// PushAction pushes an interactive block_actions envelope: user pressed the
// button actionID (with value) on the message at messageTS in channel.
func (s *Server) PushAction(envelopeID, actionID, value, channel, messageTS, user string) {
	b, _ := json.Marshal(map[string]any{
		"envelope_id": envelopeID, "type": "interactive", "accepts_response_payload": false,
		"payload": map[string]any{
			"type": "block_actions", "user": map[string]any{"id": user}, "channel": map[string]any{"id": channel},
			"team":      map[string]any{"id": Team},
			"container": map[string]any{"type": "message", "message_ts": messageTS, "channel_id": channel},
			"message":   map[string]any{"ts": messageTS},
			"actions": []any{map[string]any{"action_id": actionID, "block_id": "bw_actions", "value": value,
				"type": "button", "action_ts": fmt.Sprintf("%d.000001", time.Now().Unix())}},
		},
	})
	s.Push(b)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) errorf(format string, args ...any) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if !closed {
		s.t.Errorf("slacktest: "+format, args...)
	}
}

func (s *Server) authTest(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || bearerOrForm(r) != BotToken {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	s.count(AuthTest)
	writeJSON(w, map[string]any{"ok": true, "user_id": BotUser, "bot_id": BotID, "team_id": Team})
}

func bearerOrForm(r *http.Request) string {
	if v := r.Form.Get("token"); v != "" {
		return v
	}
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

func (s *Server) count(method string) {
	s.mu.Lock()
	s.attempts[method]++
	s.mu.Unlock()
}

// failure returns the failure to give for this call of method, if any.
func (s *Server) failure(method string) (Failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts[method]++
	if q := s.queued[method]; len(q) > 0 {
		s.queued[method] = q[1:]
		return q[0], true
	}
	if f := s.down[method]; f != nil {
		return *f, true
	}
	return Failure{}, false
}

func writeFailure(w http.ResponseWriter, f Failure) {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Status != 0 && f.Status != http.StatusOK {
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte("<html>busy</html>"))
		return
	}
	writeJSON(w, map[string]any{"ok": false, "error": f.SlackErr})
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request, method string) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if bearerOrForm(r) != BotToken {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	f, failed := s.failure(method)
	if failed && !f.Lost {
		writeFailure(w, f)
		return
	}
	c := Call{Method: method, Channel: r.Form.Get("channel"), ThreadTS: r.Form.Get("thread_ts"), Text: r.Form.Get("text"),
		TS: r.Form.Get("ts"), At: time.Now()}
	if c.Channel == "" {
		writeJSON(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	if b := r.Form.Get("blocks"); b != "" {
		if err := json.Unmarshal([]byte(b), &c.Blocks); err != nil {
			s.errorf("%s: blocks are not JSON: %v", method, err)
			writeJSON(w, map[string]any{"ok": false, "error": "invalid_blocks"})
			return
		}
		if bad := CheckBlocks(c.Blocks); len(bad) > 0 {
			s.errorf("%s: %s", method, strings.Join(bad, "; "))
			writeJSON(w, map[string]any{"ok": false, "error": "invalid_blocks"})
			return
		}
	}
	if c.Text == "" && len(c.Blocks) == 0 {
		writeJSON(w, map[string]any{"ok": false, "error": "no_text"})
		return
	}
	if c.Text == "" {
		s.errorf("%s: no fallback text", method)
	}
	if m := r.Form.Get("metadata"); m != "" {
		if err := json.Unmarshal([]byte(m), &c.Metadata); err != nil {
			s.errorf("%s: metadata is not JSON: %v", method, err)
		}
	}
	s.mu.Lock()
	if method == Update {
		known := false
		for _, p := range s.posts {
			known = known || (p.TS == c.TS && p.Channel == c.Channel)
		}
		if !known {
			s.mu.Unlock()
			writeJSON(w, map[string]any{"ok": false, "error": "message_not_found"})
			return
		}
		s.updates = append(s.updates, c)
	} else {
		s.seq++
		c.TS = fmt.Sprintf("%d.%06d", time.Now().Unix(), s.seq) // unique, ordered like Slack's
		s.posts = append(s.posts, c)
	}
	s.mu.Unlock()
	if failed {
		if f.Status == 0 {
			f.Status = http.StatusBadGateway
		}
		writeFailure(w, f)
		return
	}
	writeJSON(w, map[string]any{"ok": true, "channel": c.Channel, "ts": c.TS})
}

// history serves conversations.history: the channel's top-level messages
// newer than oldest, newest first, with their metadata when asked for.
func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	s.listMessages(w, r, History, func(r *http.Request) []Call {
		channel, oldest := r.Form.Get("channel"), r.Form.Get("oldest")
		var out []Call
		for _, c := range slices.Backward(s.Posts()) {
			if c.Channel == channel && (oldest == "" || c.TS >= oldest) {
				out = append(out, c)
			}
		}
		return out
	})
}

// threadReplies serves conversations.replies: a thread's messages (the
// parent first), with their metadata when asked for.
func (s *Server) threadReplies(w http.ResponseWriter, r *http.Request) {
	s.listMessages(w, r, ThreadReplies, func(r *http.Request) []Call {
		channel, ts := r.Form.Get("channel"), r.Form.Get("ts")
		s.mu.Lock()
		posts := slices.Clone(s.posts)
		s.mu.Unlock()
		var out []Call
		for _, c := range posts {
			if c.Channel == channel && (c.TS == ts || c.ThreadTS == ts) {
				out = append(out, c)
			}
		}
		return out
	})
}

// listMessages answers a conversations.* read with the calls pick selects,
// after the token check and any injected failure for method.
func (s *Server) listMessages(w http.ResponseWriter, r *http.Request, method string, pick func(*http.Request) []Call) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if bearerOrForm(r) != BotToken {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	if f, ok := s.failure(method); ok {
		writeFailure(w, f)
		return
	}
	meta := r.Form.Get("include_all_metadata") == "1" || r.Form.Get("include_all_metadata") == "true"
	var msgs []map[string]any
	for _, c := range pick(r) {
		m := map[string]any{"type": "message", "user": BotUser, "bot_id": BotID, "ts": c.TS, "text": c.Text}
		if c.ThreadTS != "" {
			m["thread_ts"] = c.ThreadTS
		}
		if meta && c.Metadata != nil {
			m["metadata"] = c.Metadata
		}
		msgs = append(msgs, m)
	}
	writeJSON(w, map[string]any{"ok": true, "messages": msgs, "has_more": false})
}

func (s *Server) open(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	if r.Header.Get("Authorization") != "Bearer "+AppToken {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	if f, ok := s.failure(ConnectionsOpen); ok {
		writeFailure(w, f)
		return
	}
	s.mu.Lock()
	s.opens++
	s.mu.Unlock()
	writeJSON(w, map[string]any{"ok": true, "url": "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/ws"})
}

func (s *Server) socket(w http.ResponseWriter, r *http.Request) {
	// slack-go sends the Origin Slack expects.
	up := websocket.Upgrader{CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "https://api.slack.com" }}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		s.errorf("websocket upgrade: %v", err)
		return
	}
	defer conn.Close()
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello","num_connections":1,"connection_info":{"app_id":"A1"}}`)); err != nil {
		return
	}
	_ = conn.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(5*time.Second))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			var ack struct {
				EnvelopeID string `json:"envelope_id"`
			}
			if err := conn.ReadJSON(&ack); err != nil {
				return
			}
			if ack.EnvelopeID == "" {
				continue
			}
			s.mu.Lock()
			s.acks = append(s.acks, ack.EnvelopeID)
			s.mu.Unlock()
		}
	}()
	for {
		select {
		case <-done:
			return
		case <-r.Context().Done():
			return
		case msg := <-s.frames:
			if err := conn.WriteMessage(websocket.TextMessage, msg); err != nil {
				s.frames <- msg // give it to the next connection
				return
			}
		}
	}
}

// CheckBlocks lists the ways blocks break Slack's limits (nil when none):
// at most 50 blocks, exactly one header of 1..150 characters, section text
// up to 3000, fields up to 10 of up to 2000, buttons labelled up to 75.
func CheckBlocks(blocks []map[string]any) []string {
	var bad []string
	ulen := func(s string) int { return len(utf16.Encode([]rune(s))) }
	text := func(o any) string {
		m, _ := o.(map[string]any)
		s, _ := m["text"].(string)
		return s
	}
	if len(blocks) > MaxBlocks {
		bad = append(bad, fmt.Sprintf("%d blocks, limit %d", len(blocks), MaxBlocks))
	}
	headers := 0
	for i, b := range blocks {
		switch b["type"] {
		case "header":
			headers++
			if n := ulen(text(b["text"])); n > MaxHeaderText || n == 0 {
				bad = append(bad, fmt.Sprintf("block %d: header of %d chars", i, n))
			}
		case "section":
			t := text(b["text"])
			fields, _ := b["fields"].([]any)
			if t == "" && len(fields) == 0 {
				bad = append(bad, fmt.Sprintf("block %d: empty section", i))
			}
			if n := ulen(t); n > MaxSectionText {
				bad = append(bad, fmt.Sprintf("block %d: section text of %d chars", i, n))
			}
			if len(fields) > MaxFields {
				bad = append(bad, fmt.Sprintf("block %d: %d fields", i, len(fields)))
			}
			for _, fl := range fields {
				if n := ulen(text(fl)); n > MaxFieldText {
					bad = append(bad, fmt.Sprintf("block %d: field of %d chars", i, n))
				}
			}
		case "actions":
			els, _ := b["elements"].([]any)
			if len(els) == 0 || len(els) > 25 {
				bad = append(bad, fmt.Sprintf("block %d: %d action elements", i, len(els)))
			}
			for _, e := range els {
				m, _ := e.(map[string]any)
				if n := ulen(text(m["text"])); n > MaxButtonText {
					bad = append(bad, fmt.Sprintf("block %d: button label of %d chars", i, n))
				}
			}
		}
	}
	if len(blocks) > 0 && headers != 1 {
		bad = append(bad, fmt.Sprintf("%d header blocks, want 1", headers))
	}
	return bad
}
