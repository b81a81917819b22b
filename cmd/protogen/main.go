// Command protogen writes the page's TypeScript types and validating decoders of the
// wire protocol from its single source, the Go types of internal/protocol:
//
//	go run ./cmd/protogen            # writes frontend/src/lib/protocol.gen.ts
//	go run ./cmd/protogen -check     # fails when that file is not what it would write
//
// `make protocol` runs the first; `make test` the second (through this package's test).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/clickthebutton/clickthebutton/internal/protocol"
)

// genPath is the generated file, relative to the repository's root.
const genPath = "frontend/src/lib/protocol.gen.ts"

func main() {
	out := flag.String("o", genPath, "file to write")
	check := flag.Bool("check", false, "only check that the file is current")
	flag.Parse()
	src, err := generate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "protogen:", err)
		os.Exit(1)
	}
	if *check {
		old, err := os.ReadFile(*out)
		if err != nil || !bytes.Equal(old, src) {
			fmt.Fprintf(os.Stderr, "protogen: %s is stale: run make protocol\n", *out)
			os.Exit(1)
		}
		return
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "protogen:", err)
		os.Exit(1)
	}
}

// field is one JSON field of a struct, embedded structs flattened.
type field struct {
	json     string
	t        reflect.Type
	optional bool
	nonempty bool
	min      string
}

func fieldsOf(t reflect.Type) ([]field, error) {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			inner, err := fieldsOf(f.Type)
			if err != nil {
				return nil, err
			}
			out = append(out, inner...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			return nil, fmt.Errorf("%s.%s has no JSON name", t.Name(), f.Name)
		}
		fd := field{json: name, t: f.Type}
		for _, opt := range strings.Split(f.Tag.Get("ts"), ",") {
			switch {
			case opt == "optional":
				fd.optional = true
			case opt == "nonempty":
				fd.nonempty = true
			case strings.HasPrefix(opt, "min="):
				fd.min = strings.TrimPrefix(opt, "min=")
			case opt != "":
				return nil, fmt.Errorf("%s.%s: unknown ts option %q", t.Name(), f.Name, opt)
			}
		}
		out = append(out, fd)
	}
	return out, nil
}

// tsType is the TypeScript type of a Go field type.
func tsType(t reflect.Type) (string, error) {
	switch t.Kind() {
	case reflect.String:
		return "string", nil
	case reflect.Bool:
		return "boolean", nil
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return "number", nil
	case reflect.Struct:
		return t.Name(), nil
	case reflect.Slice:
		e, err := tsType(t.Elem())
		return e + "[]", err
	}
	return "", fmt.Errorf("no TypeScript type for %s", t)
}

// check returns the TypeScript condition that is true when the value named v is
// invalid for f, and any statements that must come first.
func check(f field, v string) (pre, bad string, err error) {
	t := f.t
	switch t.Kind() {
	case reflect.String:
		bad = "!isStr(" + v + ")"
		if f.nonempty {
			bad += " || " + v + " === ''"
		}
	case reflect.Bool:
		bad = "!isBool(" + v + ")"
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		bad = "!isCount(" + v + ")"
		if f.min != "" {
			bad += " || " + v + " < " + f.min
		}
	case reflect.Struct:
		return "", "", fmt.Errorf("field %s: nested structs are decoded by name", f.json)
	case reflect.Slice:
		switch e := t.Elem(); e.Kind() {
		case reflect.String:
			bad = "!Array.isArray(" + v + ") || !" + v + ".every(isStr)"
		case reflect.Int, reflect.Int64, reflect.Uint64:
			bad = "!Array.isArray(" + v + ") || !" + v + ".every(isCount)"
		default:
			return "", "", fmt.Errorf("field %s: no check for a list of %s", f.json, e)
		}
	default:
		return "", "", fmt.Errorf("field %s: no check for %s", f.json, t)
	}
	return pre, bad, nil
}

// emit writes the interface and the decoder of one struct; typ is the frame's type
// name, or "" for a shape that is not a frame.
func emit(b *strings.Builder, t reflect.Type, typ string) error {
	fields, err := fieldsOf(t)
	if err != nil {
		return err
	}
	name := t.Name()
	fmt.Fprintf(b, "\n/** %s is internal/protocol.%s. */\nexport interface %s {\n", name, name, name)
	for _, f := range fields {
		if f.json == "type" && typ != "" {
			fmt.Fprintf(b, "  type: '%s';\n", typ)
			continue
		}
		ts, err := tsType(f.t)
		if err != nil {
			return fmt.Errorf("%s.%s: %w", name, f.json, err)
		}
		opt := ""
		if f.optional {
			opt = "?"
		}
		fmt.Fprintf(b, "  %s%s: %s;\n", f.json, opt, ts)
	}
	b.WriteString("}\n\n")
	fmt.Fprintf(b, "/** decode%s returns v as a %s, or null when it is not one. */\n", name, name)
	fmt.Fprintf(b, "export function decode%s(v: unknown): %s | null {\n  if (!isObj(v)) return null;\n", name, name)
	if typ != "" {
		fmt.Fprintf(b, "  if (v.type !== '%s') return null;\n", typ)
	}
	var req, opts []string
	for _, f := range fields {
		if f.json == "type" && typ != "" {
			req = append(req, "type: '"+typ+"'")
			continue
		}
		local := "f_" + f.json
		if f.optional {
			opts = append(opts, f.json)
			continue
		}
		switch {
		case f.t.Kind() == reflect.Struct:
			fmt.Fprintf(b, "  const %s = decode%s(v.%s);\n  if (!%s) return null;\n", local, f.t.Name(), f.json, local)
		case f.t.Kind() == reflect.Slice && f.t.Elem().Kind() == reflect.Struct:
			fmt.Fprintf(b, "  const %s = decodeList(v.%s, decode%s);\n  if (!%s) return null;\n", local, f.json, f.t.Elem().Name(), local)
		default:
			_, bad, err := check(f, local)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			fmt.Fprintf(b, "  const %s = v.%s;\n  if (%s) return null;\n", local, f.json, bad)
		}
		req = append(req, f.json+": "+local)
	}
	fmt.Fprintf(b, "  const out: %s = { %s };\n", name, strings.Join(req, ", "))
	for _, o := range opts {
		var f field
		for _, x := range fields {
			if x.json == o {
				f = x
			}
		}
		local := "f_" + f.json
		_, bad, err := check(f, local)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(b, "  const %s = v.%s;\n  if (%s !== undefined) {\n    if (%s) return null;\n    out.%s = %s;\n  }\n", local, f.json, local, bad, f.json, local)
	}
	b.WriteString("  return out;\n}\n")
	return nil
}

const header = `// Code generated by cmd/protogen from internal/protocol (docs/protocol.md). DO NOT EDIT.
// Change the Go types and run ` + "`make protocol`" + `; ` + "`make test`" + ` fails while this file is stale.

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A non-negative safe integer, as the protocol promises for every number. */
export function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isStr(v: unknown): v is string {
  return typeof v === 'string';
}

function isBool(v: unknown): v is boolean {
  return typeof v === 'boolean';
}

function decodeList<T>(v: unknown, decode: (item: unknown) => T | null): T[] | null {
  if (!Array.isArray(v)) return null;
  const out: T[] = [];
  for (const item of v) {
    const x = decode(item);
    if (x === null) return null;
    out.push(x);
  }
  return out;
}
`

// generate returns the TypeScript file.
func generate() ([]byte, error) {
	var b strings.Builder
	b.WriteString(header)
	b.WriteString("\n/** The frame types, the \"type\" of every WebSocket frame. */\n")
	for _, c := range []struct{ name, v string }{
		{"TYPE_STATE", protocol.TypeState}, {"TYPE_BOARD", protocol.TypeBoard}, {"TYPE_BOARD_DELTA", protocol.TypeBoardDelta},
		{"TYPE_STATS", protocol.TypeStats}, {"TYPE_RANK", protocol.TypeRank}, {"TYPE_ERROR", protocol.TypeError},
		{"TYPE_CLICK", protocol.TypeClick}, {"TYPE_RESYNC", protocol.TypeResync},
	} {
		fmt.Fprintf(&b, "export const %s = '%s';\n", c.name, c.v)
	}
	b.WriteString("\n/** The error codes a client acts on. */\n")
	for _, c := range []struct{ name, v string }{
		{"CODE_UNAVAILABLE", protocol.CodeUnavailable}, {"CODE_BANNED", protocol.CodeBanned}, {"CODE_HANDLE_LOCKED", protocol.CodeHandleLocked},
	} {
		fmt.Fprintf(&b, "export const %s = '%s';\n", c.name, c.v)
	}
	for _, v := range protocol.Types() {
		if err := emit(&b, reflect.TypeOf(v), ""); err != nil {
			return nil, err
		}
	}
	var names, cases []string
	for _, f := range protocol.ServerFrames() {
		t := reflect.TypeOf(f.Value)
		if err := emit(&b, t, f.Type); err != nil {
			return nil, err
		}
		names = append(names, t.Name())
		cases = append(cases, fmt.Sprintf("    case '%s':\n      return decode%s(v);\n", f.Type, t.Name()))
	}
	fmt.Fprintf(&b, "\n/** Every frame the server sends. */\nexport type ServerFrame = %s;\n", strings.Join(names, " | "))
	b.WriteString("\n/** decodeServerFrame returns v as a server frame of a known type, or null. */\n")
	b.WriteString("export function decodeServerFrame(v: unknown): ServerFrame | null {\n  if (!isObj(v)) return null;\n  switch (v.type) {\n")
	b.WriteString(strings.Join(cases, ""))
	b.WriteString("    default:\n      return null;\n  }\n}\n")
	return []byte(b.String()), nil
}
