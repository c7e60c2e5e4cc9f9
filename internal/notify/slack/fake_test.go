package slack

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/gorilla/websocket"
)

const (
	testBotToken = "xoxb-test-bot"
	testAppToken = "xapp-test-app"
	testBotUser  = "UBOT"
	testBotID    = "BBOT"
)

// call is one chat.postMessage or chat.update the fake received.
type call struct {
	Channel, TS, ThreadTS, Text string
	Blocks                      []map[string]any
}

// failure is an answer the fake gives instead of success.
type failure struct {
	status     int    // HTTP status; 0 means 200
	retryAfter string // Retry-After header
	slackErr   string // ok:false error code (with status 0)
}

// fakeSlack implements the parts of Slack's Web API and Socket Mode that
// bouncewatch uses, and checks what it is sent against Slack's limits.
type fakeSlack struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	seq     int
	posts   []call
	updates []call
	fail    map[string][]failure // method -> failures to give, in order
	opens   int

	toWS chan []byte // frames for the Socket Mode connection to send
	acks chan string // envelope IDs acknowledged by the client
}

func newFakeSlack(t *testing.T) *fakeSlack {
	f := &fakeSlack{t: t, fail: map[string][]failure{}, toWS: make(chan []byte, 16), acks: make(chan string, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/auth.test", f.authTest)
	mux.HandleFunc("/api/chat.postMessage", func(w http.ResponseWriter, r *http.Request) { f.chat(w, r, "chat.postMessage") })
	mux.HandleFunc("/api/chat.update", func(w http.ResponseWriter, r *http.Request) { f.chat(w, r, "chat.update") })
	mux.HandleFunc("/api/apps.connections.open", f.open)
	mux.HandleFunc("/ws", f.socket)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSlack) apiURL() string { return f.srv.URL + "/api/" }

func (f *fakeSlack) inject(method string, fl ...failure) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[method] = append(f.fail[method], fl...)
}

func (f *fakeSlack) calls() (posts, updates []call) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.posts...), append([]call(nil), f.updates...)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeSlack) authTest(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Form.Get("token") != testBotToken {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	writeJSON(w, map[string]any{"ok": true, "user_id": testBotUser, "bot_id": testBotID, "team_id": "T1"})
}

// takeFailure pops the next injected failure for method and writes it.
func (f *fakeSlack) takeFailure(w http.ResponseWriter, method string) bool {
	f.mu.Lock()
	q := f.fail[method]
	if len(q) == 0 {
		f.mu.Unlock()
		return false
	}
	fl := q[0]
	f.fail[method] = q[1:]
	f.mu.Unlock()
	if fl.retryAfter != "" {
		w.Header().Set("Retry-After", fl.retryAfter)
	}
	if fl.status != 0 {
		w.WriteHeader(fl.status)
		_, _ = w.Write([]byte("<html>busy</html>"))
		return true
	}
	writeJSON(w, map[string]any{"ok": false, "error": fl.slackErr})
	return true
}

func (f *fakeSlack) chat(w http.ResponseWriter, r *http.Request, method string) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.Form.Get("token") != testBotToken {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	if f.takeFailure(w, method) {
		return
	}
	c := call{Channel: r.Form.Get("channel"), ThreadTS: r.Form.Get("thread_ts"), Text: r.Form.Get("text"), TS: r.Form.Get("ts")}
	if b := r.Form.Get("blocks"); b != "" {
		if err := json.Unmarshal([]byte(b), &c.Blocks); err != nil {
			f.t.Errorf("%s: blocks are not JSON: %v", method, err)
		}
		for _, p := range checkBlocks(c.Blocks) {
			f.t.Errorf("%s: %s", method, p)
		}
	}
	if c.Text == "" {
		f.t.Errorf("%s: no fallback text", method)
	}
	f.mu.Lock()
	if method == "chat.update" {
		f.updates = append(f.updates, c)
	} else {
		f.seq++
		c.TS = fmt.Sprintf("1700000000.%06d", f.seq)
		f.posts = append(f.posts, c)
	}
	f.mu.Unlock()
	writeJSON(w, map[string]any{"ok": true, "channel": c.Channel, "ts": c.TS})
}

func (f *fakeSlack) open(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+testAppToken {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	f.mu.Lock()
	f.opens++
	f.mu.Unlock()
	writeJSON(w, map[string]any{"ok": true, "url": "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/ws"})
}

func (f *fakeSlack) socket(w http.ResponseWriter, r *http.Request) {
	// slack-go sends the Origin Slack expects.
	up := websocket.Upgrader{CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "https://api.slack.com" }}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		f.t.Errorf("websocket upgrade: %v", err)
		return
	}
	defer conn.Close()
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello","num_connections":1,"connection_info":{"app_id":"A1"}}`)); err != nil {
		return
	}
	_ = conn.WriteControl(websocket.PingMessage, []byte("p"), deadline())
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
			f.acks <- ack.EnvelopeID
		}
	}()
	for {
		select {
		case <-done:
			return
		case <-r.Context().Done():
			return
		case msg := <-f.toWS:
			if err := conn.WriteMessage(websocket.TextMessage, msg); err != nil {
				return
			}
		}
	}
}

// checkBlocks lists the ways blocks break Slack's limits.
func checkBlocks(blocks []map[string]any) []string {
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
				if n := ulen(text(e.(map[string]any)["text"])); n > MaxButtonText {
					bad = append(bad, fmt.Sprintf("block %d: button label of %d chars", i, n))
				}
			}
		}
	}
	if headers != 1 {
		bad = append(bad, fmt.Sprintf("%d header blocks, want 1", headers))
	}
	return bad
}

func deadline() time.Time { return time.Now().Add(5 * time.Second) }
