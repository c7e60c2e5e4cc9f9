package bounce

import "strings"

// fml, a mailing-list server long used in Japan, answers a post it refuses
// with a plain mail (X-MLServer: fml) from the list's -admin address: the
// sender is not a member, or the post looped. Those posts did not reach the
// list. The header and fml's wording say so; the -admin address is not
// required, since an address is data, not evidence.
func (a *analysis) fromFML() []Recipient {
	if !strings.Contains(lowerASCII(a.p.header.Get("X-MLServer")), "fml") {
		return nil
	}
	low := lowerASCII(a.text)
	if !strings.Contains(a.subject, "not member") && !strings.Contains(low, "not a member") &&
		!strings.Contains(a.subject, "loop alert") && !strings.Contains(low, "duplicated message-id") {
		return nil
	}
	addr := ""
	for _, s := range findAddrs(a.text) {
		if ad := cleanAddr(s.addr); !a.excluded(ad, false) {
			addr = ad
			break
		}
	}
	if addr == "" {
		return nil
	}
	diag := strings.TrimSpace(firstParagraph(strings.Split(a.text, "\n")))
	// The refusal is in fml's words (rules.yaml, mtas: fml): the subject
	// and the text both count.
	return []Recipient{a.recipient(found{addr: addr, action: ActionFailed, diag: diag, from: srcText, mta: "fml",
		diagPrefix: a.subject + "\n" + lowerASCII(a.text)})}
}
