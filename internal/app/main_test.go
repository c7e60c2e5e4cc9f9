package app_test

import (
	"flag"
	"os"
	"testing"
)

// TestMain lets the end-to-end tests of this package run side by side
// even on a two-core machine: they wait on servers and timers (about 2 s of
// CPU for the whole package), so the default of one test per core would
// only add their waits up. An explicit -test.parallel is kept.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", "8")
	}
	os.Exit(m.Run())
}
