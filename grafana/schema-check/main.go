// Command schema-check decodes Grafana dashboards with Grafana's own generated schema types
// (grafana-foundation-sdk) in strict mode: an unknown field, a missing required field or a value
// of the wrong type is an error naming the field's path. Exit status 1 when any file fails.
//
// Usage: schema-check DASHBOARD.json...
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: schema-check DASHBOARD.json...")
		os.Exit(2)
	}
	// Panel options, field config and queries are decoded by each panel type's own schema.
	plugins.RegisterDefaultPlugins()
	failed := false
	for _, path := range os.Args[1:] {
		if err := check(path); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

func check(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var board dashboard.Dashboard
	return decodingError(board.UnmarshalJSONStrict(raw))
}

// decodingError is nil when UnmarshalJSONStrict succeeded: it then returns a non-nil error
// holding an empty cog.BuildErrors (a typed nil in an error interface).
func decodingError(err error) error {
	var buildErrors cog.BuildErrors
	if errors.As(err, &buildErrors) && len(buildErrors) == 0 {
		return nil
	}
	return err
}
