package email

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/emersion/go-message/mail"
)

// A token ties a mail we send to its incident in a way nobody without the
// key can forge: "bw.{incidentID}.{nonce}.{mac}", mac being the first 96
// bits of HMAC-SHA256(key, "bw.{incidentID}.{nonce}") in hex. We put it in
// the local part of our Message-ID; a reply carries it back in In-Reply-To
// and References, and a bounce of our own mail carries it in the returned
// headers.
const (
	tokenPrefix = "bw"
	macHexLen   = 24
	maxNonceLen = 64
)

// MakeToken returns the token for an incident. nonce makes Message-IDs
// unique (see NewNonce); it must be lowercase letters and digits, and other
// characters are dropped. key should be at least 32 random bytes, kept
// secret and stable across restarts.
func MakeToken(key []byte, incidentID int64, nonce string) string {
	nonce = cleanNonce(nonce)
	body := tokenPrefix + "." + strconv.FormatInt(incidentID, 10) + "." + nonce
	return body + "." + mac(key, body)
}

// VerifyToken checks a token, or a Message-ID that carries one (with or
// without angle brackets and "@domain"), and returns its incident ID. A
// forged, altered or truncated token fails, as does any token under an
// empty key.
func VerifyToken(key []byte, s string) (incidentID int64, ok bool) {
	if len(key) == 0 {
		return 0, false
	}
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "<")
	s = strings.TrimSuffix(s, ">")
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		s = s[:at]
	}
	s = strings.ToLower(s)
	parts := strings.Split(s, ".")
	if len(parts) != 4 || parts[0] != tokenPrefix || parts[2] == "" || parts[2] != cleanNonce(parts[2]) {
		return 0, false
	}
	id, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || id < 0 || strconv.FormatInt(id, 10) != parts[1] {
		return 0, false
	}
	want := mac(key, parts[0]+"."+parts[1]+"."+parts[2])
	if !hmac.Equal([]byte(parts[3]), []byte(want)) {
		return 0, false
	}
	return id, true
}

// MessageID returns the Message-ID (without angle brackets) that carries
// token, e.g. "bw.42.k3j2h4g5f6d7.0a1b...@example.jp".
func MessageID(token, domain string) string { return token + "@" + domain }

// NewNonce returns 16 random lowercase letters and digits.
func NewNonce() (string, error) {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

// FindToken looks for a valid token among the message IDs in a reply's
// In-Reply-To and References fields, newest first, and returns its incident.
func FindToken(key []byte, h mail.Header) (incidentID int64, ok bool) {
	_, id, ok := FindReplyToken(key, h)
	return id, ok
}

// FindReplyToken is FindToken that also returns the token itself, in the
// form MakeToken made it (to look up when it was issued).
func FindReplyToken(key []byte, h mail.Header) (token string, incidentID int64, ok bool) {
	for _, field := range []string{"In-Reply-To", "References"} {
		ids := msgIDs(strings.Join(h.Values(field), " "))
		for i := len(ids) - 1; i >= 0; i-- {
			if id, ok := VerifyToken(key, ids[i]); ok {
				return tokenOf(ids[i]), id, true
			}
		}
	}
	return "", 0, false
}

// tokenOf is the token part of a Message-ID that VerifyToken accepted.
func tokenOf(s string) string {
	s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "<"), ">")
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		s = s[:at]
	}
	return strings.ToLower(s)
}

// msgIDs extracts "<...>" items from a header value, leniently: mail
// clients fold, comment and mangle these fields.
func msgIDs(v string) []string {
	var out []string
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			return out
		}
		v = v[i+1:]
		j := strings.IndexByte(v, '>')
		if j < 0 {
			return out
		}
		if id := strings.TrimSpace(v[:j]); id != "" {
			out = append(out, id)
		}
		v = v[j+1:]
	}
}

func mac(key []byte, body string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))[:macHexLen]
}

func cleanNonce(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
		if b.Len() == maxNonceLen {
			break
		}
	}
	return b.String()
}
