package bounce

import "strings"

// fml, a mailing-list server long used in Japan, answers a post it refuses
// with a plain mail from the list's -admin address (X-MLServer: fml): the
// sender is not a member, or the post looped. Those posts did not reach the
// list.
func (a *analysis) fromFML() []Recipient {
	if !strings.Contains(lowerASCII(a.p.header.Get("X-MLServer")), "fml") {
		return nil
	}
	local := a.from
	if i := strings.IndexByte(local, '@'); i >= 0 {
		local = local[:i]
	}
	if !strings.HasSuffix(local, "-admin") {
		return nil
	}
	low := lowerASCII(a.text)
	var reason Reason
	switch {
	case strings.Contains(a.subject, "not member") || strings.Contains(low, "not a member"):
		reason = ReasonRejected
	case strings.Contains(a.subject, "loop alert") || strings.Contains(low, "duplicated message-id"):
		reason = ReasonSystemError
	default:
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
	r := a.recipient(addr, ActionFailed, "", diag, "", "")
	r.Reason = reason
	r.Hard = false
	return []Recipient{r}
}
