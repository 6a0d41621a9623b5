package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestOpenAPICoversRoutes walks routes.go (declaredRoutes, as
// TestEveryRouteGuarded does) and checks the served document against
// it: every route has its operation, with the security of its guard and
// its least role, and the document has no operation routes.go lacks;
// every $ref names a schema the document has.
func TestOpenAPICoversRoutes(t *testing.T) {
	f := newFixture(t)
	code, b := f.do(t, "GET", "/v1/openapi.json", "", "", nil, nil)
	if code != http.StatusOK {
		t.Fatalf("GET /v1/openapi.json: %d", code)
	}
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	routes := declaredRoutes(t)
	want := map[string]bool{}
	for _, rt := range routes {
		want[rt.pattern] = true
		if _, ok := operations[rt.pattern]; !ok {
			t.Errorf("%s: no operation in openapi.go", rt.pattern)
		}
		method, path, _ := strings.Cut(rt.pattern, " ")
		op, ok := doc.Paths[path][strings.ToLower(method)]
		if !ok {
			t.Errorf("%s: not in the document", rt.pattern)
			continue
		}
		sec, _ := json.Marshal(op["security"])
		wantSec := map[string]string{"public": `[]`, "terminal": `[{"terminal":[]}]`, "staff": `[{"staff":[]}]`, "holder": `[{"cardholder":[]}]`, "app": `[{"application":[]}]`}[rt.guard]
		if string(sec) != wantSec {
			t.Errorf("%s: security %s, want %s", rt.pattern, sec, wantSec)
		}
		if rt.guard == "staff" && op["x-citycard-role"] != rt.role.String() {
			t.Errorf("%s: x-citycard-role %v, want %v", rt.pattern, op["x-citycard-role"], rt.role)
		}
		if s, _ := op["summary"].(string); s == "" || s == "(undocumented)" {
			t.Errorf("%s: no summary", rt.pattern)
		}
	}
	for p := range operations {
		if !want[p] {
			t.Errorf("openapi.go describes %s, which routes.go does not declare", p)
		}
	}
	n := 0
	for _, item := range doc.Paths {
		n += len(item)
	}
	if n != len(routes) {
		t.Errorf("the document has %d operations, routes.go %d routes", n, len(routes))
	}
	var refs func(v any)
	refs = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["$ref"].(string); ok {
				name, ok := strings.CutPrefix(r, "#/components/schemas/")
				if _, have := doc.Components.Schemas[name]; !ok || !have {
					t.Errorf("$ref %q names no schema", r)
				}
			}
			for _, x := range v {
				refs(x)
			}
		case []any:
			for _, x := range v {
				refs(x)
			}
		}
	}
	var all any
	json.Unmarshal(b, &all)
	refs(all)
}
