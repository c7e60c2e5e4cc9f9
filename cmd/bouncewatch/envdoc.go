package main

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/bouncewatch/bouncewatch/internal/app"
)

// envMarkdown renders the configuration reference as a Markdown table, from
// the struct tags of app.Config (the README's table is checked against it).
func envMarkdown() string {
	var b strings.Builder
	b.WriteString("| Variable | Default | Description |\n|---|---|---|\n")
	t := reflect.TypeOf(app.Config{})
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := app.EnvPrefix + "_" + f.Tag.Get("envconfig")
		def := f.Tag.Get("default")
		if def != "" {
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", name, def, strings.ReplaceAll(f.Tag.Get("desc"), "|", "\\|"))
	}
	return b.String()
}
