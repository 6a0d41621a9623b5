package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
)

// envKEK names the environment variable that may hold the key-encryption
// key, as 64 hex digits.
const envKEK = "CITYCARD_KEK"

// generatedComponents is the number of components a generated key is split
// into: two custodians, dual control.
const generatedComponents = 2

// keysOptions holds the flags of every keys subcommand; each subcommand
// accepts the subset its keysSubcommand lists.
type keysOptions struct {
	store           string
	issuer          string
	alg             string
	kekFile         string
	newKEK          string
	printComponents bool
	json            bool
	typ             string
	all             bool
	components      int
	kcv             string
	in              string
	by              string
}

func (o *keysOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.store, "store", "citycard-keys.json", "key store `file`")
	fs.StringVar(&o.issuer, "issuer", "", "issuer `code`, 16 hex digits")
	fs.StringVar(&o.alg, "alg", "", "`algorithm`: 3des or sm4 (init: default 3des; rotate, ceremony: default that of the active key)")
	fs.StringVar(&o.kekFile, "kek-file", "", "`file` holding the key-encryption key, 64 hex digits (default: $"+envKEK+")")
	fs.StringVar(&o.newKEK, "new-kek", "", "init: write a fresh random key-encryption key to `file` (mode 0600) and use it")
	fs.BoolVar(&o.printComponents, "print-components", false, "init, rotate: print the components themselves (a ceremony on an offline machine only)")
	fs.BoolVar(&o.json, "json", false, "list: print JSON")
	fs.StringVar(&o.typ, "type", "", "key `type`: purchase, load, tac, maintenance, record or transport")
	fs.BoolVar(&o.all, "all", false, "rotate: every key type of the issuer")
	fs.IntVar(&o.components, "components", generatedComponents, "ceremony: number of components, one per custodian")
	fs.StringVar(&o.kcv, "kcv", "", "ceremony: the KCV the combined key must have, 6 hex digits (optional)")
	fs.StringVar(&o.in, "in", "-", "ceremony: `file` to read the components from; - is standard input")
	fs.StringVar(&o.by, "by", "", "operator name for the store's event log (default: $USER)")
}

// keysSubcommand is one subcommand of keys and the flags it accepts.
type keysSubcommand struct {
	summary string
	flags   []string
	run     func(ctx context.Context, e env, o *keysOptions) error
}

func keysSubcommands() map[string]keysSubcommand {
	return map[string]keysSubcommand{
		"init": {
			"create the store if need be, with version 1 of every key of an issuer (or of --type T,...: an operator's --type record)",
			[]string{"store", "issuer", "type", "alg", "kek-file", "new-kek", "print-components", "by"},
			keysInit,
		},
		"list": {
			"list the keys (id, algorithm, KCV, active, origin, created); never key material",
			[]string{"store", "kek-file", "json"},
			keysList,
		},
		"rotate": {
			"add the next version, generated, of one key type (--type) or of every type (--all)",
			[]string{"store", "issuer", "type", "all", "alg", "kek-file", "print-components", "by"},
			keysRotate,
		},
		"ceremony": {
			"add the next version of a key type from custodians' components: lines COMPONENT_HEX KCV_HEX [NAME]",
			[]string{"store", "issuer", "type", "alg", "components", "kcv", "in", "kek-file", "by"},
			keysCeremony,
		},
	}
}

// runKeys runs `citycard keys SUBCOMMAND [flags]`. Flags may come before
// or after the subcommand.
func runKeys(ctx context.Context, e env, args []string) error {
	subs := keysSubcommands()
	fs := flag.NewFlagSet("citycard keys", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var o keysOptions
	o.register(fs)
	fs.Usage = func() { keysUsage(e.stderr, fs, subs) }

	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return errUsage // the flag package has printed the error and the usage
	}
	if len(pos) == 0 {
		keysUsage(e.stderr, fs, subs)
		return errUsage
	}
	name := pos[0]
	sub, ok := subs[name]
	if !ok {
		fmt.Fprintf(e.stderr, "citycard keys: unknown subcommand %q\n", name)
		keysUsage(e.stderr, fs, subs)
		return errUsage
	}
	if len(pos) > 1 {
		fmt.Fprintf(e.stderr, "citycard keys %s: unexpected argument %q\n", name, pos[1])
		return errUsage
	}
	var stray []string
	fs.Visit(func(f *flag.Flag) {
		if !slices.Contains(sub.flags, f.Name) {
			stray = append(stray, "--"+f.Name)
		}
	})
	if len(stray) > 0 {
		fmt.Fprintf(e.stderr, "citycard keys %s: %s does not apply (flags: --%s)\n", name, strings.Join(stray, ", "), strings.Join(sub.flags, ", --"))
		return errUsage
	}
	return sub.run(ctx, e, &o)
}

// parseInterleaved parses flags wherever they are among the positional
// arguments, which it returns in order. "--" ends the flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func keysUsage(w io.Writer, fs *flag.FlagSet, subs map[string]keysSubcommand) {
	fmt.Fprintln(w, "usage: citycard keys <subcommand> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "subcommands:")
	names := make([]string, 0, len(subs))
	for n := range subs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, subs[n].summary)
		fmt.Fprintf(w, "  %-9s flags: --%s\n", "", strings.Join(subs[n].flags, ", --"))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "The key-encryption key (KEK) that seals the store comes from --kek-file or $%s (64 hex digits).\n", envKEK)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "flags:")
	fs.PrintDefaults()
}

// kek returns the key-encryption key: from --kek-file, else from the
// environment. There is no default and no plaintext store.
func (o *keysOptions) kek(op string, e env) ([]byte, error) {
	if o.kekFile != "" {
		if fi, err := os.Stat(o.kekFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
			fmt.Fprintf(e.stderr, "citycard keys: warning: KEK file %s is readable by others (mode %v); chmod 600 it\n", o.kekFile, fi.Mode().Perm())
		}
		kek, err := keys.ReadKEKFile(o.kekFile)
		return kek, citycard.Wrap(op, citycard.Other, err)
	}
	if v := e.getenv(envKEK); v != "" {
		kek, err := keys.ParseKEK(v)
		if err != nil {
			return nil, citycard.E(op, citycard.Invalid, "$%s: %w", envKEK, err)
		}
		return kek, nil
	}
	return nil, citycard.E(op, citycard.Invalid, "no key-encryption key: set %s to 64 hex digits or pass --kek-file FILE", envKEK)
}

// open opens the store named by --store with the KEK.
func (o *keysOptions) open(op string, e env) (*keys.FileStore, error) {
	kek, err := o.kek(op, e)
	if err != nil {
		return nil, err
	}
	s, err := keys.OpenFileStore(o.store, kek, time.Now)
	clear(kek)
	if citycard.IsKind(err, citycard.NotFound) {
		return nil, citycard.E(op, citycard.NotFound, "no key store %s (run citycard keys init, or pass --store)", o.store)
	}
	return s, citycard.Wrap(op, citycard.Other, err)
}

func (o *keysOptions) parseIssuer(op string) (citycard.IssuerCode, error) {
	if o.issuer == "" {
		return citycard.IssuerCode{}, citycard.E(op, citycard.Invalid, "--issuer is required (16 hex digits)")
	}
	c, err := citycard.ParseIssuerCode(o.issuer)
	return c, citycard.Wrap(op, citycard.Other, err)
}

// operator names who runs the command, for the event log.
func (o *keysOptions) operator(e env) string {
	if o.by != "" {
		return o.by
	}
	for _, v := range []string{"USER", "LOGNAME"} {
		if s := e.getenv(v); s != "" {
			return s
		}
	}
	return "unknown"
}

// algFor returns --alg, or else the algorithm of the active key of
// (issuer, t); kind Invalid when there is neither.
func (o *keysOptions) algFor(op string, s *keys.FileStore, issuer citycard.IssuerCode, t keys.KeyType) (keys.Alg, error) {
	if o.alg != "" {
		a, err := keys.ParseAlg(o.alg)
		return a, citycard.Wrap(op, citycard.Other, err)
	}
	act, err := s.Active(issuer, t)
	if err != nil {
		return 0, citycard.E(op, citycard.Invalid, "--alg is required: %v/%v has no key yet", issuer, t)
	}
	return act.Alg, nil
}

func keysInit(ctx context.Context, e env, o *keysOptions) error {
	const op = "keys init"
	issuer, err := o.parseIssuer(op)
	if err != nil {
		return err
	}
	alg := keys.Alg3DES
	if o.alg != "" {
		if alg, err = keys.ParseAlg(o.alg); err != nil {
			return citycard.Wrap(op, citycard.Other, err)
		}
	}
	_, statErr := os.Stat(o.store)
	exists := statErr == nil
	if statErr != nil && !errors.Is(statErr, os.ErrNotExist) {
		return citycard.E(op, citycard.IO, "key store: %w", statErr)
	}

	var s *keys.FileStore
	switch {
	case o.newKEK != "" && o.kekFile != "":
		return citycard.E(op, citycard.Invalid, "--new-kek and --kek-file exclude each other")
	case o.newKEK != "" && exists:
		return citycard.E(op, citycard.Exists, "key store %s exists; --new-kek only makes a new store (open it with its KEK)", o.store)
	case o.newKEK != "":
		kek, err := keys.NewKEKFile(o.newKEK)
		if err != nil {
			return citycard.Wrap(op, citycard.Other, err)
		}
		fmt.Fprintf(e.stderr, "citycard keys: new key-encryption key written to %s: keep it apart from the store, and back it up\n", o.newKEK)
		s, err = keys.CreateFileStore(o.store, kek, time.Now)
		clear(kek)
		if err != nil {
			return citycard.Wrap(op, citycard.Other, err)
		}
	case exists:
		if s, err = o.open(op, e); err != nil {
			return err
		}
	default:
		kek, err := o.kek(op, e)
		if err != nil {
			return err
		}
		s, err = keys.CreateFileStore(o.store, kek, time.Now)
		clear(kek)
		if err != nil {
			return citycard.Wrap(op, citycard.Other, err)
		}
	}

	list, err := s.List()
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	for _, info := range list {
		if info.Issuer == issuer {
			return citycard.E(op, citycard.Exists, "issuer %v already has keys in %s; use citycard keys rotate or ceremony", issuer, o.store)
		}
	}
	// Every type the platform uses: the card keys, the record key that
	// seals PSAM records, the transport key under which master keys
	// travel to PSAMs (its components go to the custodians who load it
	// into the PSAM vendor's store), and the application master key of the
	// cards' entitlement files.
	// An operator holds only its record key (--type record): its PSAMs
	// seal records under it, so one operator's PSAMs cannot seal
	// another's.
	types := append(slices.Clone(keys.CardKeyTypes), keys.KeyRecord, keys.KeyTransport, keys.KeyApplication)
	if o.typ != "" {
		types = nil
		for _, name := range strings.Split(o.typ, ",") {
			t, err := keys.ParseKeyType(strings.TrimSpace(name))
			if err != nil {
				return citycard.Wrap(op, citycard.Invalid, err)
			}
			if !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
	}
	return generate(e, o, s, op, issuer, types, func(keys.KeyType) keys.Alg { return alg })
}

func keysRotate(ctx context.Context, e env, o *keysOptions) error {
	const op = "keys rotate"
	issuer, err := o.parseIssuer(op)
	if err != nil {
		return err
	}
	if (o.typ == "") == !o.all {
		return citycard.E(op, citycard.Invalid, "give either --type T or --all")
	}
	s, err := o.open(op, e)
	if err != nil {
		return err
	}
	var types []keys.KeyType
	if o.all {
		list, err := s.List()
		if err != nil {
			return citycard.Wrap(op, citycard.Other, err)
		}
		for _, info := range list { // sorted by type
			if info.Issuer == issuer && !slices.Contains(types, info.Type) {
				types = append(types, info.Type)
			}
		}
		if len(types) == 0 {
			return citycard.E(op, citycard.KeyMissing, "issuer %v has no key in %s to rotate (run citycard keys init)", issuer, o.store)
		}
	} else {
		t, err := keys.ParseKeyType(o.typ)
		if err != nil {
			return citycard.Wrap(op, citycard.Other, err)
		}
		if _, err := s.Active(issuer, t); err != nil {
			return citycard.E(op, citycard.KeyMissing, "%v/%v has no key in %s to rotate (use citycard keys init or ceremony)", issuer, t, o.store)
		}
		types = []keys.KeyType{t}
	}
	algs := map[keys.KeyType]keys.Alg{}
	for _, t := range types {
		if algs[t], err = o.algFor(op, s, issuer, t); err != nil {
			return err
		}
	}
	return generate(e, o, s, op, issuer, types, func(t keys.KeyType) keys.Alg { return algs[t] })
}

// generate adds the next version of each type, generated and split into
// components, in one save, and prints the keys with their components'
// KCVs (and the components themselves with --print-components).
func generate(e env, o *keysOptions, s *keys.FileStore, op string, issuer citycard.IssuerCode, types []keys.KeyType, algOf func(keys.KeyType) keys.Alg) error {
	splits := make([]keys.Split, len(types))
	defer func() {
		for _, sp := range splits {
			clear(sp.Key)
			for _, c := range sp.Components {
				clear(c)
			}
		}
	}()
	nks := make([]keys.NewKey, len(types))
	for i, t := range types {
		sp, err := keys.GenerateSplit(algOf(t), generatedComponents)
		if err != nil {
			return citycard.Wrap(op, citycard.Other, err)
		}
		splits[i] = sp
		nks[i] = keys.NewKey{
			Issuer: issuer, Type: t, Alg: algOf(t), Key: sp.Key,
			Origin: fmt.Sprintf("generated, %d components", generatedComponents),
			Audit:  keys.Audit{By: o.operator(e)},
		}
	}
	infos, err := s.Add(nks...)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	if o.printComponents {
		fmt.Fprintln(e.stderr, "citycard keys: WARNING: the components below are key material; print them on an offline machine only, hand each to its custodian and destroy this output")
	}
	plural := "s"
	if len(infos) == 1 {
		plural = ""
	}
	fmt.Fprintf(e.stdout, "key store %s: %d key%s added\n", s.Path(), len(infos), plural)
	for i, info := range infos {
		fmt.Fprintf(e.stdout, "%v  %v  KCV %X  %s  %s\n", info.Ref, info.Alg, info.KCV, activeWord(info.Active), info.Origin)
		for j, kcv := range splits[i].KCVs {
			if o.printComponents {
				fmt.Fprintf(e.stdout, "  component %d  KCV %X  %X\n", j+1, kcv, splits[i].Components[j])
			} else {
				fmt.Fprintf(e.stdout, "  component %d  KCV %X\n", j+1, kcv)
			}
		}
	}
	return nil
}

func activeWord(a bool) string {
	if a {
		return "active"
	}
	return "inactive"
}

// listItem is one key as list --json prints it.
type listItem struct {
	ID      string    `json:"id"`
	Issuer  string    `json:"issuer"`
	Type    string    `json:"type"`
	Version uint8     `json:"version"`
	Alg     string    `json:"alg"`
	KCV     string    `json:"kcv"`
	Active  bool      `json:"active"`
	Origin  string    `json:"origin"`
	Created time.Time `json:"created"`
}

func keysList(ctx context.Context, e env, o *keysOptions) error {
	const op = "keys list"
	s, err := o.open(op, e)
	if err != nil {
		return err
	}
	list, err := s.List()
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	if o.json {
		items := make([]listItem, 0, len(list))
		for _, i := range list {
			items = append(items, listItem{
				ID: i.Ref.String(), Issuer: i.Issuer.String(), Type: i.Type.String(), Version: i.Version,
				Alg: i.Alg.String(), KCV: fmt.Sprintf("%X", i.KCV), Active: i.Active, Origin: i.Origin, Created: i.Created,
			})
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return citycard.Wrap(op, citycard.IO, enc.Encode(items))
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tALG\tKCV\tACTIVE\tORIGIN\tCREATED")
	for _, i := range list {
		active := "-"
		if i.Active {
			active = "yes"
		}
		fmt.Fprintf(tw, "%v\t%v\t%X\t%s\t%s\t%s\n", i.Ref, i.Alg, i.KCV, active, i.Origin, i.Created.Format(time.RFC3339))
	}
	return citycard.Wrap(op, citycard.IO, tw.Flush())
}

func keysCeremony(ctx context.Context, e env, o *keysOptions) error {
	const op = "keys ceremony"
	issuer, err := o.parseIssuer(op)
	if err != nil {
		return err
	}
	if o.typ == "" {
		return citycard.E(op, citycard.Invalid, "--type is required")
	}
	t, err := keys.ParseKeyType(o.typ)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	n := o.components
	if n < keys.MinComponents || n > keys.MaxComponents {
		return citycard.E(op, citycard.Invalid, "--components %d: want %d to %d", n, keys.MinComponents, keys.MaxComponents)
	}
	var want [3]byte
	if o.kcv != "" {
		b, err := hex.DecodeString(o.kcv)
		if err != nil || len(b) != 3 {
			return citycard.E(op, citycard.Invalid, "--kcv %q: want 6 hex digits", o.kcv)
		}
		copy(want[:], b)
	}
	s, err := o.open(op, e)
	if err != nil {
		return err
	}
	alg, err := o.algFor(op, s, issuer, t)
	if err != nil {
		return err
	}

	var in io.Reader = os.Stdin
	prompt := true
	if o.in != "-" {
		f, err := os.Open(o.in)
		if err != nil {
			return citycard.E(op, citycard.IO, "components: %w", err)
		}
		defer f.Close()
		in, prompt = f, false
	}
	comps, kcvs, names, err := readComponents(op, in, n, func(i int) {
		if prompt {
			fmt.Fprintf(e.stderr, "custodian %d of %d: enter one line: COMPONENT_HEX KCV_HEX [NAME]\n", i, n)
		}
	})
	defer func() {
		for _, c := range comps {
			clear(c)
		}
	}()
	if err != nil {
		return err
	}
	key, kcv, err := keys.CombineComponents(alg, comps, kcvs)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	defer clear(key)
	if o.kcv != "" && kcv != want {
		return citycard.E(op, citycard.Crypto, "the combined key's KCV is %X, --kcv says %X: a component is wrong", kcv, want)
	}
	infos, err := s.Add(keys.NewKey{
		Issuer: issuer, Type: t, Alg: alg, Key: key,
		Origin: fmt.Sprintf("components %d of %d", n, n),
		Audit:  keys.Audit{By: o.operator(e), Custodians: names},
	})
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	info := infos[0]
	fmt.Fprintf(e.stdout, "%v  %v  KCV %X  %s  %s\n", info.Ref, info.Alg, info.KCV, activeWord(info.Active), info.Origin)
	return nil
}

// readComponents reads n lines "COMPONENT_HEX KCV_HEX [NAME]" (blank lines
// skipped) and stops after the n-th, so that an interactive ceremony ends
// without waiting for end of input. Errors never show a component.
func readComponents(op string, r io.Reader, n int, prompt func(i int)) ([][]byte, [][3]byte, []string, error) {
	sc := bufio.NewScanner(r)
	var comps [][]byte
	var kcvs [][3]byte
	names := make([]string, 0, n)
	for len(comps) < n {
		prompt(len(comps) + 1)
		if !sc.Scan() {
			if err := sc.Err(); err != nil {
				return comps, nil, nil, citycard.E(op, citycard.IO, "components: %w", err)
			}
			return comps, nil, nil, citycard.E(op, citycard.Invalid, "read %d components, want %d", len(comps), n)
		}
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		i := len(comps) + 1
		if len(f) < 2 || len(f) > 3 {
			return comps, nil, nil, citycard.E(op, citycard.Invalid, "component %d: want COMPONENT_HEX KCV_HEX [NAME], have %d fields", i, len(f))
		}
		c, err := hex.DecodeString(f[0])
		if err != nil || len(c) != keys.KeyLen {
			return comps, nil, nil, citycard.E(op, citycard.Invalid, "component %d: want %d hex digits", i, 2*keys.KeyLen)
		}
		comps = append(comps, c)
		k, err := hex.DecodeString(f[1])
		if err != nil || len(k) != 3 {
			return comps, nil, nil, citycard.E(op, citycard.Invalid, "component %d: KCV %q: want 6 hex digits", i, f[1])
		}
		kcvs = append(kcvs, [3]byte(k))
		name := fmt.Sprintf("custodian %d", i)
		if len(f) == 3 {
			name = f[2]
		}
		names = append(names, name)
	}
	return comps, kcvs, names, nil
}
