package bounce

import (
	"net/netip"
	"strings"
)

// Phrases that, right before an IP address, say the receiver is naming the
// connecting client: our sending IP (KB section 1.3). Lowercase.
var senderIPCues = []string{
	"the mail server [", "mail server ", "messages from [", "messages from ", "message from ",
	"banned sending ip [", "sending ip [", "sending ip ", "sender [", "sender[", "client host [",
	"client host ", "client [", "client ", "your ip address ", "your ip ", "ip address ", "with ip: [",
	"with ip ", "ip: [", "ip: ", "ip [", "ip=", "ipr=", "query/ip/", "bl.shtml?", "lookup?ip=",
	"connections will not be accepted from ", "not accepted from ", "mail from ip ", "mail from [",
	"mail from ", "from ip ", "your server [", "hostname, [", "hostname [", "hostname, ", "your server ", "sending server [",
	"sending mta [", "connecting ip ", "remote ip ", "remote host [", "source ip ", "source ip: ",
	"ip_address=", "address [", "host [", "blocked - see ", "dnsbl ", "listed ", "ip ",
}

// sendingIP finds the IP of our server named by the receiver in text, or "".
// The bracket that follows a host name ("mx.example.net[192.0.2.1]") is the
// receiver's own address and is skipped.
func sendingIP(text string) string {
	return sendingIPLow(lowerASCII(text))
}

// sendingIPLow is sendingIP of a text already lowercased with lowerASCII.
func sendingIPLow(low string) string {
	for i := 0; i < len(low); i++ {
		c := low[i]
		if !isDigit(c) && !(c == '[' && i+1 < len(low) && isHexOrColon(low[i+1])) {
			continue
		}
		if i > 0 && (isDigit(low[i-1]) || low[i-1] == '.' || low[i-1] == ':' || isAlpha(low[i-1]) && c != '[') {
			continue
		}
		start := i
		if c == '[' {
			start = i + 1
		}
		end := start
		for end < len(low) && (isDigit(low[end]) || low[end] == '.' || low[end] == ':' || (low[end] >= 'a' && low[end] <= 'f')) {
			end++
		}
		cand := strings.TrimRight(low[start:end], ".:")
		if !strings.Contains(cand, ".") && strings.Count(cand, ":") < 2 {
			i = end // not an address: skip the cost of parsing it
			continue
		}
		addr, err := netip.ParseAddr(cand)
		if err != nil {
			i = end
			continue
		}
		if ip := judgeIP(low, i, start, end, addr); ip != "" {
			return ip
		}
		i = end
	}
	return ""
}

func isHexOrColon(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c == ':' }

func judgeIP(low string, at, start, end int, addr netip.Addr) string {
	if addr.IsLoopback() || addr.IsUnspecified() {
		return ""
	}
	bracket := at < start || (at > 0 && low[at-1] == '[')
	bpos := at
	if at > 0 && low[at-1] == '[' {
		bpos = at - 1
	}
	// A host name glued to the bracket, or "host name [ip]:" (Exim), is the receiver.
	if bracket && bpos > 0 {
		j := bpos
		for j > 0 && low[j-1] == ' ' {
			j--
		}
		if j > 0 && isDomainChar(low[j-1]) && j < bpos+1 {
			k := j
			for k > 0 && isDomainChar(low[k-1]) {
				k--
			}
			word := low[k:j]
			if strings.Contains(word, ".") && !strings.HasSuffix(word, ".") && !isIPWord(word) && strings.IndexFunc(word, isLetter) >= 0 {
				return ""
			}
		}
	}
	// Gmail writes "[203.0.113.25      15]": the bracket after a code.
	if bracket {
		k := end
		for k < len(low) && low[k] == ' ' {
			k++
		}
		n := k
		for n < len(low) && isDigit(low[n]) {
			n++
		}
		if k > end && n > k && n < len(low) && low[n] == ']' {
			return addr.String()
		}
	}
	from := bpos - 40
	if from < 0 {
		from = 0
	}
	before := low[from:at]
	if c := at; c < len(low) && low[c] == '[' {
		before += "["
	}
	for _, cue := range senderIPCues {
		if strings.HasSuffix(before, cue) {
			// "connect to host[ip]" and "while talking to" never name us.
			if strings.HasSuffix(before, "to "+cue) {
				continue
			}
			return addr.String()
		}
	}
	return ""
}

func isIPWord(w string) bool {
	_, err := netip.ParseAddr(w)
	return err == nil
}

func isLetter(r rune) bool { return r >= 'a' && r <= 'z' }
