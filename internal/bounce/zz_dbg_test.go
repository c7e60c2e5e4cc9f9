package bounce

import (
	"fmt"
	"os"
	"testing"
)

func TestDbg(t *testing.T) {
	raw, _ := os.ReadFile(os.Getenv("F"))
	p, err := walk(normalize(raw), DefaultLimits)
	fmt.Println("walkerr", err, len(p.texts), len(p.status))
	a := &analysis{p: p, rep: &Report{}}
	a.headerFacts()
	a.buildText()
	fmt.Printf("TEXT:%q\n", a.text[:min(len(a.text), 1500)])
	for _, r := range a.textRecipients() {
		fmt.Printf("%+v\n", r)
	}
	rep := Analyze(raw)
	for _, r := range rep.Recipients {
		fmt.Printf("%+v\n", r)
	}
}
