package advice

import "testing"

func TestCatalogParses(t *testing.T) {
	if _, err := parseCatalog(textsYAML); err != nil {
		t.Fatal(err)
	}
}
