package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/sim"
)

// publicRoutes are the routes anyone may call: they show no card, terminal
// or key data. Any other route must have a guard.
var publicRoutes = map[string]bool{"GET /healthz": true, "GET /metrics": true, "GET /v1/openapi.json": true, "POST /v1/staff/login": true,
	"POST /v1/self/register": true, "POST /v1/self/login": true}

// declaredRoute is a route as routes.go declares it.
type declaredRoute struct {
	pattern string
	guard   string // "public", "terminal", "staff", "holder"
	role    Role   // for staff
}

var patternRe = regexp.MustCompile(`^[A-Z]+ /`)

// declaredRoutes parses routes.go: every route must be registered through
// the wrapper that names its guard.
func declaredRoutes(t *testing.T) []declaredRoute {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "routes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]Role{"RoleAuditor": RoleAuditor, "RoleClerk": RoleClerk, "RoleSupervisor": RoleSupervisor, "RoleAdmin": RoleAdmin}
	guards := map[string]string{"publicRoute": "public", "terminalRoute": "terminal", "loadRoute": "terminal", "staffRoute": "staff", "holderRoute": "holder", "appRoute": "app"}
	var out []declaredRoute
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		pattern, _ := strconv.Unquote(lit.Value)
		if !patternRe.MatchString(pattern) {
			return true
		}
		sel, _ := call.Fun.(*ast.SelectorExpr)
		var fn string
		if sel != nil {
			fn = sel.Sel.Name
		}
		g, ok := guards[fn]
		if !ok {
			t.Errorf("%v: route %q is registered by %s, not through a guard", fset.Position(call.Pos()), pattern, fn)
			return true
		}
		r := declaredRoute{pattern: pattern, guard: g}
		if g == "staff" {
			id, _ := call.Args[1].(*ast.Ident)
			if id == nil || roles[id.Name] == 0 {
				t.Errorf("%v: staff route %q: its role must be a named Role", fset.Position(call.Pos()), pattern)
				return true
			}
			r.role = roles[id.Name]
		}
		out = append(out, r)
		return true
	})
	if len(out) == 0 {
		t.Fatal("routes.go declares no route")
	}
	return out
}

// TestRoutesRegisteredOnce: the mux is filled in one place, from routes.go,
// so that no route can bypass its guard.
func TestRoutesRegisteredOnce(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	n := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(node ast.Node) bool {
			if sel, ok := node.(*ast.SelectorExpr); ok && (sel.Sel.Name == "Handle" || sel.Sel.Name == "HandleFunc") {
				n++
				if name != "server.go" {
					t.Errorf("%v: a handler registered outside Server.Handler", fset.Position(sel.Pos()))
				}
			}
			return true
		})
	}
	if n != 1 {
		t.Fatalf("%d registrations on a mux, want the one loop over routes()", n)
	}
}

// TestEveryRouteGuarded walks routes.go and checks each route's guard over
// HTTP: without a token 401; a terminal route with another terminal's
// token 403; a staff route with a terminal's token 401 and with a role too
// low 403; a cardholder route with a staff's or a terminal's token 401;
// the right caller passes the guard.
func TestEveryRouteGuarded(t *testing.T) {
	f := newFixture(t)
	x := withCMS(t, f)
	holderTok := x.selfToken(t, x.issued(t, "31500000000000000701", 100))
	ap := withApps(t, x)
	staff := f.s.Staff.(firstAuth)[1].(*StaticStaff)
	roleTokens := map[Role]string{}
	for role := Role(0); role <= RoleAdmin; role++ {
		roleTokens[role] = "staff-token-role-" + strconv.Itoa(int(role))
		staff.Add(roleTokens[role], Staff{Name: "role" + strconv.Itoa(int(role)), Role: role})
	}
	own, other := f.ups[0].Terminal.ID, f.ups[1].Terminal.ID
	routes := declaredRoutes(t)
	seen := map[string]bool{}
	for _, rt := range routes {
		seen[rt.pattern] = true
		method, path := routePath(t, rt.pattern, own)
		check := func(who, token string, want ...int) {
			t.Helper()
			req, _ := http.NewRequest(method, f.srv.URL+path, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			code := resp.StatusCode
			if code == http.StatusNotFound && resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("%s: not served (%d)", rt.pattern, code)
			}
			if len(want) == 0 { // the guard lets the caller through
				if code == http.StatusUnauthorized || code == http.StatusForbidden {
					t.Fatalf("%s, %s: %d", rt.pattern, who, code)
				}
				return
			}
			if code != want[0] {
				t.Fatalf("%s, %s: %d, want %d", rt.pattern, who, code, want[0])
			}
			if code == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("%s, %s: 401 without WWW-Authenticate: Bearer", rt.pattern, who)
			}
		}
		switch rt.guard {
		case "public":
			if !publicRoutes[rt.pattern] {
				t.Fatalf("%s is public, and not in the list of public routes", rt.pattern)
			}
			check("no token", "")
		case "terminal":
			if !strings.Contains(rt.pattern, "{terminal}") {
				t.Fatalf("terminal route %s does not name its terminal", rt.pattern)
			}
			check("no token", "", http.StatusUnauthorized)
			check("another terminal's token", f.toks[other], http.StatusForbidden)
			check("a staff token", roleTokens[RoleAdmin], http.StatusForbidden)
			check("its own token", f.toks[own])
		case "staff":
			check("no token", "", http.StatusUnauthorized)
			check("a terminal's token", f.toks[own], http.StatusUnauthorized)
			check("an unknown token", "nobody's", http.StatusUnauthorized)
			check("a role too low", roleTokens[rt.role-1], http.StatusForbidden)
			check("the role", roleTokens[rt.role])
			check("the highest role", roleTokens[RoleAdmin])
			check("a cardholder's token", holderTok, http.StatusUnauthorized)
		case "app":
			if !strings.Contains(rt.pattern, "{app}") {
				t.Fatalf("application route %s does not name its application", rt.pattern)
			}
			check("no token", "", http.StatusUnauthorized)
			check("a terminal's token", f.toks[own], http.StatusUnauthorized)
			check("a staff token", roleTokens[RoleAdmin], http.StatusUnauthorized)
			check("another application's token", ap.tokens["nb-school-7"], http.StatusForbidden)
			check("its own token", ap.tokens["nb-library"])
		case "holder":
			check("no token", "", http.StatusUnauthorized)
			check("a terminal's token", f.toks[own], http.StatusUnauthorized)
			check("a staff token", roleTokens[RoleAdmin], http.StatusUnauthorized)
			check("a cardholder's token", holderTok)
		}
	}
	for p := range publicRoutes {
		if !seen[p] {
			t.Fatalf("public route %s is not declared", p)
		}
	}
}

// routePath fills a route pattern's wildcards with values of their kind.
func routePath(t *testing.T, pattern string, term citycard.TerminalID) (method, path string) {
	t.Helper()
	method, path, _ = strings.Cut(pattern, " ")
	values := map[string]string{
		"terminal": term.String(),
		"batch":    "b1",
		"issuer":   sim.Issuer.String(),
		"asn":      citycard.ASN{9: 1}.String(),
		"pos":      "1",
		"name":     "ann",
		"app":      "nb-library",
		"id":       "1",
		"day":      "2026-12-01",
		"file":     "CCLR-20261201-positions.csv",
		"party":    "nb-bus",
		"type":     "ERR",
	}
	for _, m := range regexp.MustCompile(`\{([a-z_]+)\}`).FindAllStringSubmatch(path, -1) {
		v, ok := values[m[1]]
		if !ok {
			t.Fatalf("%s: no test value for wildcard {%s}", pattern, m[1])
		}
		path = strings.Replace(path, m[0], v, 1)
	}
	return method, path
}
