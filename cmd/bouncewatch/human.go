package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/bouncewatch/bouncewatch/internal/advice"
	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

// kindText names a report's kind for people.
var kindText = map[advice.Lang]map[bounce.Kind]string{
	advice.Japanese: {
		bounce.KindBounce: "配信エラー(届いていません)", bounce.KindDelay: "配送遅延(まだ再送中です)",
		bounce.KindAutoReply: "自動応答(不在通知など)。エラーではありません", bounce.KindFeedback: "苦情報告(受信者が迷惑メールとして報告)",
		bounce.KindDelivered: "配信完了の通知", bounce.KindNone: "配信エラーではありません",
	},
	advice.English: {
		bounce.KindBounce: "bounce (not delivered)", bounce.KindDelay: "delayed (still being retried)",
		bounce.KindAutoReply: "auto-reply (not an error)", bounce.KindFeedback: "complaint report",
		bounce.KindDelivered: "delivery confirmation", bounce.KindNone: "not a bounce",
	},
}

// printHuman prints a readable report of one message: per failed
// recipient, the explanation and the recommended actions.
func printHuman(w io.Writer, file string, rep *bounce.Report, lang advice.Lang, opts []advice.Option) {
	fmt.Fprintf(w, "== %s: %s\n", file, kindText[lang][rep.Kind])
	if rep.Error != "" {
		if lang == advice.English {
			fmt.Fprintf(w, "   could not be read: %s\n", rep.Error)
		} else {
			fmt.Fprintf(w, "   読み取れませんでした: %s\n", rep.Error)
		}
	}
	if rep.Kind != bounce.KindBounce && rep.Kind != bounce.KindDelay {
		fmt.Fprintln(w)
		return
	}
	for _, rc := range rep.Recipients {
		text := advice.ForRecipient(rep, rc, lang, opts...).Text()
		for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
			fmt.Fprintf(w, "   %s\n", line)
		}
		fmt.Fprintln(w)
	}
	if rep.Truncated {
		// The cap is not silent (issue 13): say that the list is cut.
		if lang == advice.English {
			fmt.Fprintf(w, "   The bounce names more recipients than can be shown; only the first %d are listed.\n\n", len(rep.Recipients))
		} else {
			fmt.Fprintf(w, "   このエラーメールには表示できる数より多くの宛先が書かれています。最初の %d 件だけを示しました。\n\n", len(rep.Recipients))
		}
	}
}
