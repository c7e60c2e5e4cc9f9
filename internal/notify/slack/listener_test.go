package slack

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack/slackevents"

	"github.com/bouncewatch/bouncewatch/internal/notify"
)

// recorder is a Handler that reports every call on a channel.
type recorder struct{ got chan string }

func (r recorder) OnThreadReply(_ context.Context, channel, threadTS, user, text string) {
	r.got <- fmt.Sprintf("reply %s %s %s %s", channel, threadTS, user, text)
}

func (r recorder) OnAction(_ context.Context, actionID, value, channel, messageTS, user string) {
	r.got <- fmt.Sprintf("action %s %s %s %s %s", actionID, value, channel, messageTS, user)
}

func messageEnvelope(id, event string) []byte {
	return []byte(fmt.Sprintf(`{"envelope_id":%q,"type":"events_api","accepts_response_payload":false,"payload":`+
		`{"token":"t","team_id":"T1","api_app_id":"A1","type":"event_callback","event_id":"Ev%s","event_time":1700000200,"event":%s}}`, id, id, event))
}

func actionEnvelope(id, actionID string) []byte {
	return []byte(fmt.Sprintf(`{"envelope_id":%q,"type":"interactive","accepts_response_payload":false,"payload":`+
		`{"type":"block_actions","user":{"id":"U1"},"channel":{"id":"C1"},"container":{"type":"message","message_ts":"1700000000.000001","channel_id":"C1"},`+
		`"message":{"ts":"1700000000.000001"},"actions":[{"action_id":%q,"block_id":"bw_actions","value":"42","type":"button","action_ts":"1700000300.1"}]}}`, id, actionID))
}

func TestListener(t *testing.T) {
	f := newFakeSlack(t)
	rec := recorder{got: make(chan string, 16)}
	l := NewListener(ListenerConfig{AppToken: testAppToken, BotToken: testBotToken, APIURL: f.apiURL()}, rec, discard())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()

	const thread = `"thread_ts":"1700000000.000001"`
	envelopes := map[string][]byte{
		"e1": messageEnvelope("e1", `{"type":"message","channel":"C1","user":"U1","text":"詳細を教えて","ts":"1700000100.000002",`+thread+`}`),
		"e2": messageEnvelope("e2", `{"type":"message","subtype":"bot_message","channel":"C1","bot_id":"B9","text":"bot","ts":"1700000100.000003",`+thread+`}`),
		"e3": messageEnvelope("e3", `{"type":"message","channel":"C1","user":"`+testBotUser+`","bot_id":"`+testBotID+`","text":"ours","ts":"1700000100.000004",`+thread+`}`),
		"e4": messageEnvelope("e4", `{"type":"message","channel":"C1","user":"U1","text":"top level","ts":"1700000100.000005"}`),
		"e5": actionEnvelope("e5", ActionDetail),
		"e6": actionEnvelope("e6", ActionMute),
		"e7": actionEnvelope("e7", ActionResolve),
		"e8": actionEnvelope("e8", "someone_elses_button"),
	}
	for _, id := range []string{"e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8"} {
		f.toWS <- envelopes[id]
	}

	var acked []string
	for range envelopes {
		select {
		case id := <-f.acks:
			acked = append(acked, id)
		case <-time.After(10 * time.Second):
			t.Fatalf("acks so far %v; want all of e1..e8", acked)
		}
	}
	sort.Strings(acked)
	if got := strings.Join(acked, ","); got != "e1,e2,e3,e4,e5,e6,e7,e8" {
		t.Errorf("acked %s", got)
	}

	want := []string{
		"reply C1 1700000000.000001 U1 詳細を教えて",
		"action bw_detail 42 C1 1700000000.000001 U1",
		"action bw_mute 42 C1 1700000000.000001 U1",
		"action bw_resolve 42 C1 1700000000.000001 U1",
	}
	for i, w := range want {
		select {
		case got := <-rec.got:
			if got != w {
				t.Errorf("call %d = %q, want %q", i, got, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("call %d never came, want %q", i, w)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	select {
	case extra := <-rec.got:
		t.Errorf("unexpected handler call %q (bot, own or top-level message, or a foreign button)", extra)
	default:
	}
}

func TestListenerRefusedToken(t *testing.T) {
	f := newFakeSlack(t)
	l := NewListener(ListenerConfig{AppToken: testAppToken, BotToken: "xoxb-wrong", APIURL: f.apiURL()}, recorder{}, discard())
	err := l.Run(context.Background())
	if retry, _ := notify.Retryable(err); err == nil || retry {
		t.Errorf("Run with a refused bot token = %v, retryable %v; want a permanent error", err, retry)
	}

	l = NewListener(ListenerConfig{AppToken: "xapp-wrong", BotUserID: testBotUser, APIURL: f.apiURL()}, recorder{}, discard())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = l.Run(ctx)
	if retry, _ := notify.Retryable(err); err == nil || retry {
		t.Errorf("Run with a refused app token = %v, retryable %v; want a permanent error", err, retry)
	}
}

func TestIsThreadReply(t *testing.T) {
	me := self{user: "UBOT", bot: "BBOT"}
	cases := []struct {
		name string
		m    slackevents.MessageEvent
		want bool
	}{
		{"reply", slackevents.MessageEvent{User: "U1", TimeStamp: "2", ThreadTimeStamp: "1"}, true},
		{"broadcast reply", slackevents.MessageEvent{User: "U1", TimeStamp: "2", ThreadTimeStamp: "1", SubType: "thread_broadcast"}, true},
		{"top level", slackevents.MessageEvent{User: "U1", TimeStamp: "2"}, false},
		{"thread parent", slackevents.MessageEvent{User: "U1", TimeStamp: "1", ThreadTimeStamp: "1"}, false},
		{"other bot", slackevents.MessageEvent{User: "U7", BotID: "B7", TimeStamp: "2", ThreadTimeStamp: "1"}, false},
		{"bot_message", slackevents.MessageEvent{SubType: "bot_message", BotID: "B7", TimeStamp: "2", ThreadTimeStamp: "1"}, false},
		{"ourselves", slackevents.MessageEvent{User: "UBOT", TimeStamp: "2", ThreadTimeStamp: "1"}, false},
		{"edit", slackevents.MessageEvent{User: "U1", SubType: "message_changed", TimeStamp: "2", ThreadTimeStamp: "1"}, false},
	}
	for _, c := range cases {
		if got := isThreadReply(&c.m, me); got != c.want {
			t.Errorf("%s: isThreadReply = %v, want %v", c.name, got, c.want)
		}
	}
}
