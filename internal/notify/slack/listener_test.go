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
	"github.com/bouncewatch/bouncewatch/internal/notify/slack/slacktest"
)

// recorder is a Handler that reports every call on a channel.
type recorder struct{ got chan string }

func (r recorder) OnThreadReply(_ context.Context, channel, threadTS, user, text string) {
	r.got <- fmt.Sprintf("reply %s %s %s %s", channel, threadTS, user, text)
}

func (r recorder) OnAction(_ context.Context, actionID, value, channel, messageTS, user string) {
	r.got <- fmt.Sprintf("action %s %s %s %s %s", actionID, value, channel, messageTS, user)
}

func TestListener(t *testing.T) {
	f := slacktest.New(t)
	rec := recorder{got: make(chan string, 16)}
	l := NewListener(ListenerConfig{AppToken: slacktest.AppToken, BotToken: slacktest.BotToken, APIURL: f.APIURL()}, rec, discard())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()

	const thread = "1700000000.000001"
	f.PushThreadReply("e1", "C1", thread, "1700000100.000002", "U1", "詳細を教えて")
	f.PushBotThreadReply("e2", "C1", thread, "1700000100.000003", "B9", "bot")
	f.PushEvent("e3", map[string]any{"type": "message", "channel": "C1", "user": slacktest.BotUser, "bot_id": slacktest.BotID,
		"text": "ours", "ts": "1700000100.000004", "thread_ts": thread})
	f.PushEvent("e4", map[string]any{"type": "message", "channel": "C1", "user": "U1", "text": "top level", "ts": "1700000100.000005"})
	f.PushAction("e5", ActionDetail, "42", "C1", thread, "U1")
	f.PushAction("e6", ActionMute, "42", "C1", thread, "U1")
	f.PushAction("e7", ActionResolve, "42", "C1", thread, "U1")
	f.PushAction("e8", "someone_elses_button", "42", "C1", thread, "U1")

	const all = "e1,e2,e3,e4,e5,e6,e7,e8"
	var acked []string
	for wait := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		acked = f.Acks()
		if len(acked) >= 8 || time.Now().After(wait) {
			break
		}
	}
	sort.Strings(acked)
	if got := strings.Join(acked, ","); got != all {
		t.Errorf("acked %s, want %s", got, all)
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
	f := slacktest.New(t)
	l := NewListener(ListenerConfig{AppToken: slacktest.AppToken, BotToken: "xoxb-wrong", APIURL: f.APIURL()}, recorder{}, discard())
	err := l.Run(context.Background())
	if retry, _ := notify.Retryable(err); err == nil || retry {
		t.Errorf("Run with a refused bot token = %v, retryable %v; want a permanent error", err, retry)
	}

	l = NewListener(ListenerConfig{AppToken: "xapp-wrong", BotUserID: slacktest.BotUser, APIURL: f.APIURL()}, recorder{}, discard())
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
