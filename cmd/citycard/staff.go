package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/dburl"
)

// The environment of the commands that talk to the API.
const (
	envServer   = "CITYCARD_SERVER"
	envToken    = "CITYCARD_TOKEN"
	envPassword = "CITYCARD_PASSWORD"
	// answerBytesMax bounds an answer the CLI reads.
	answerBytesMax = 4 << 20
)

const staffUsage = `usage: citycard staff <command> [flags]

Staff accounts: each a login name, a role (auditor reads; clerk serves
cardholders; supervisor also approves what needs a second person; admin
also manages staff) and a service point (--point, its kind --point-type
own_counter, agent, mobile or bank_branch). A partner bank's branch is
named BANK/BRANCH (the bank's registry party: icbc-ningbo/haishu-03); its
staff take and pay money only through their bank, serve no other bank's
co-branded cards and read only their bank's clearing statement.

  add --name N --role R --point P [--point-type T]
          add an account: with --db on the store itself (the bootstrap:
          the first admin, before or beside serve), else through the API
          as an admin
  list    the accounts
  disable NAME | enable NAME
          an account disabled can no longer log in, and its sessions end
  login --name N
          open a session; its token is alone on the last line (give it
          to the other commands as $CITYCARD_TOKEN or --token-file)

The password of add and login is read from --password-file, else from
$CITYCARD_PASSWORD (12 to 72 bytes). The API is at --server (default
$CITYCARD_SERVER, else http://127.0.0.1:8080).

flags:
`

// apiOptions are the flags of the commands that talk to the API.
type apiOptions struct {
	server, tokenFile string
}

func (o *apiOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.server, "server", "", "the API's base `URL` (default $"+envServer+", else http://127.0.0.1:8080)")
	fs.StringVar(&o.tokenFile, "token-file", "", "`file` holding the staff session token (default $"+envToken+")")
}

// parseAPICommand adds the API's flags to fs, parses args (flags
// anywhere) and returns the positional arguments, at least the command,
// and the API client.
func parseAPICommand(fs *flag.FlagSet, args []string, e env) ([]string, *apiClient, error) {
	var o apiOptions
	o.register(fs)
	pos, err := parsePositional(fs, args)
	if err != nil {
		return nil, nil, err
	}
	if len(pos) == 0 {
		fs.Usage()
		return nil, nil, errUsage
	}
	c, err := o.client(e)
	return pos, c, err
}

// apiClient is the staff's side of the API: JSON in, JSON out.
type apiClient struct {
	base, token string
	http        *http.Client
}

// client returns the API client of the flags and environment; the token
// may be empty (login needs none).
func (o *apiOptions) client(e env) (*apiClient, error) {
	c := &apiClient{base: o.server, http: &http.Client{Timeout: time.Minute}}
	if c.base == "" {
		c.base = e.getenv(envServer)
	}
	if c.base == "" {
		c.base = "http://127.0.0.1:8080"
	}
	c.base = strings.TrimSuffix(c.base, "/")
	switch {
	case o.tokenFile != "":
		b, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return nil, err
		}
		c.token = strings.TrimSpace(string(b))
	default:
		c.token = e.getenv(envToken)
	}
	return c, nil
}

// call sends body (nil for none) as JSON and returns the answer's status
// and body; a status not 2xx is an error naming the route, the status and
// the server's message.
func (c *apiClient) call(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, answerBytesMax))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Error, Kind string }
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return resp.StatusCode, b, fmt.Errorf("%s %s: %d %s: %s", method, path, resp.StatusCode, http.StatusText(resp.StatusCode), e.Error)
	}
	return resp.StatusCode, b, nil
}

// show calls the API and prints its answer, indented.
func (c *apiClient) show(ctx context.Context, w io.Writer, method, path string, body any) error {
	_, b, err := c.call(ctx, method, path, body)
	if err != nil {
		return err
	}
	return printIndented(w, b)
}

func printIndented(w io.Writer, b []byte) error {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return fmt.Errorf("the answer is not JSON: %w", err)
	}
	out.WriteByte('\n')
	_, err := w.Write(out.Bytes())
	return err
}

// password reads the password of add and login.
func password(e env, file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if p := e.getenv(envPassword); p != "" {
		return p, nil
	}
	return "", fmt.Errorf("no password: set $%s or pass --password-file: %w", envPassword, errUsage)
}

func runStaff(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("staff", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, staffUsage); fs.PrintDefaults() }
	db := fs.String("db", "", "add: the database to add the account to directly: sqlite:PATH or postgres://... (the bootstrap)")
	name := fs.String("name", "", "the account's login name: 1 to 32 of a-z 0-9 . _ -")
	role := fs.String("role", "", "add: auditor, clerk, supervisor or admin")
	point := fs.String("point", "", "add: the service point's ID")
	pointType := fs.String("point-type", "own_counter", "add: own_counter, agent, mobile or bank_branch")
	pwFile := fs.String("password-file", "", "`file` holding the password (default $"+envPassword+")")
	pos, c, err := parseAPICommand(fs, args, e)
	if err != nil {
		return err
	}
	want := func(n int) error {
		if len(pos) != n+1 {
			return fmt.Errorf("staff %s: want %d argument(s) after it, have %d: %w", pos[0], n, len(pos)-1, errUsage)
		}
		return nil
	}
	switch pos[0] {
	case "add":
		if err := want(0); err != nil {
			return err
		}
		pw, err := password(e, *pwFile)
		if err != nil {
			return err
		}
		if *db != "" {
			return staffAddDirect(ctx, e, *db, *name, *role, *point, *pointType, pw)
		}
		return c.show(ctx, e.stdout, "POST", "/v1/staff", map[string]string{"name": *name, "role": *role, "service_point": *point, "point_type": *pointType, "password": pw})
	case "list":
		if err := want(0); err != nil {
			return err
		}
		return c.show(ctx, e.stdout, "GET", "/v1/staff", nil)
	case "disable", "enable":
		if err := want(1); err != nil {
			return err
		}
		return c.show(ctx, e.stdout, "POST", "/v1/staff/"+pos[1]+"/"+pos[0], nil)
	case "login":
		if err := want(0); err != nil {
			return err
		}
		pw, err := password(e, *pwFile)
		if err != nil {
			return err
		}
		_, b, err := c.call(ctx, "POST", "/v1/staff/login", map[string]string{"name": *name, "password": pw})
		if err != nil {
			return err
		}
		var s struct {
			Token, Role, ServicePoint string
			ExpiresAt                 string `json:"expires_at"`
		}
		if err := json.Unmarshal(b, &s); err != nil || s.Token == "" {
			return fmt.Errorf("staff login: the answer holds no token: %s", b)
		}
		fmt.Fprintf(e.stdout, "logged in as %s (%s) until %s\n%s\n", *name, s.Role, s.ExpiresAt, s.Token)
		return nil
	}
	fs.Usage()
	return fmt.Errorf("staff: unknown command %q: %w", pos[0], errUsage)
}

// staffAddDirect adds an account on the store itself: the bootstrap of
// the first admin, audited as done by "bootstrap" at "cli".
func staffAddDirect(ctx context.Context, e env, db, name, role, point, pointType, pw string) error {
	r, err := cms.ParseRole(role)
	if err != nil {
		return fmt.Errorf("staff add: %w: %w", err, errUsage)
	}
	pt, err := cms.ParsePointType(pointType)
	if err != nil {
		return fmt.Errorf("staff add: %w: %w", err, errUsage)
	}
	if _, err := dburl.Parse(db); err != nil {
		return err
	}
	st, err := openStores(ctx, db)
	if err != nil {
		return err
	}
	defer st.close()
	m, err := cms.NewStaffing(st.staff, time.Now, cms.StaffOptions{}).Add(ctx, cms.Actor{Who: "bootstrap", ServicePoint: "cli"},
		cms.StaffMember{Name: name, Role: r, ServicePoint: point, PointType: pt}, pw)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "added %s: %s at %s (%s)\n", m.Name, m.Role, m.ServicePoint, m.PointType)
	return nil
}
