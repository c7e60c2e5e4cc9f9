package bounce

import (
	"net/mail"
	"testing"
)

// sameDate reports whether parseMailDate agrees with mail.ParseDate on v:
// the same instant, zone name and offset, and the same error.
func sameDate(v string) (ok bool, got, want string) {
	t1, err1 := parseMailDate(v)
	t2, err2 := mail.ParseDate(v)
	n1, o1 := t1.Zone()
	n2, o2 := t2.Zone()
	e1, e2 := "", ""
	if err1 != nil {
		e1 = err1.Error()
	}
	if err2 != nil {
		e2 = err2.Error()
	}
	return t1.Equal(t2) && n1 == n2 && o1 == o2 && e1 == e2 && t1.Location().String() == t2.Location().String(),
		t1.String() + " " + e1, t2.String() + " " + e2
}

var dateSeeds = []string{
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"Tue, 07 May 2024 09:15:00 +0900",
	"Tue, 07 May 2024 09:15:00 +0900 (JST)",
	"  Tue, 07 May 2024 09:15:00 +0900 (JST) (nested (comment))",
	"Tue, 07 May 2024 09:15:00 +0900 (unclosed",
	"Tue, 07 May 2024 09:15:00 +0900 (esc \\) ok)",
	"Tue, 07 May 2024 09:15:00 +0900 trailing words",
	"Wed, 31 Feb 2024 09:15:00 +0900",
	"Thu, 7 May 24 09:15:00 +0900",
	"Thu, 7 May 2024 09:15 +0900",
	"7 May 2024 09:15:00 +0900",
	"Thu, 20 Nov 1997 09:55:06 MDT",
	"Thu, 20 Nov 1997 09:55:06 GMT",
	"mon, 02 jan 2006 15:04:05 -0700",
	"Xyz, 02 Jan 2006 15:04:05 -0700",
	"Mon,  2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05 +2500",
	"Mon, 2 Jan 2006 15:04:05 -07",
	"Mon, 2 Jan 2006 15:04:05 -0700\r\n",
	"Mon, 2 Jan 2006 15:04:05 -07\r\n00",
	"+0900",
	"-",
	"",
	"\t",
}

func TestParseMailDateMatchesNetMail(t *testing.T) {
	for _, v := range dateSeeds {
		if ok, got, want := sameDate(v); !ok {
			t.Errorf("parseMailDate(%q) = %s, mail.ParseDate = %s", v, got, want)
		}
	}
}

func FuzzParseMailDate(f *testing.F) {
	for _, v := range dateSeeds {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if ok, got, want := sameDate(v); !ok {
			t.Errorf("parseMailDate(%q) = %s, mail.ParseDate = %s", v, got, want)
		}
	})
}

// FuzzMatchRules checks the compiled rule matcher against one
// strings.Contains per phrase.
func FuzzMatchRules(f *testing.F) {
	f.Add("550 5.1.1 <a@example.com>: Recipient address rejected: User unknown in virtual mailbox table")
	f.Add("recipient address rejected: access denied")
	f.Add("Recipient address rejected: greylisted, try again")
	f.Add("boîte pleine")
	f.Fuzz(func(t *testing.T, s string) {
		low := lowerASCII(s)
		if got, want := matchRules(low), naiveMatchRules(low); got != want {
			t.Errorf("matchRules(%q) = %q, want %q", low, got, want)
		}
	})
}
