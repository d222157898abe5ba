package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Output formats of the client commands.
const (
	formatTable  = "table"
	formatJSON   = "json"
	formatYAML   = "yaml"
	formatValues = "value"
	formatCSV    = "csv"
)

// formats are the values -f takes.
var formats = []string{formatTable, formatJSON, formatYAML, formatValues, formatCSV}

// writeTable draws rows under header with +---+ borders, like the neutron
// client. A cell may hold several lines.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	width := make([]int, len(header))
	for i, h := range header {
		width[i] = utf8.RuneCountInString(h)
	}
	for _, r := range rows {
		for i, cell := range r {
			for _, line := range strings.Split(cell, "\n") {
				width[i] = max(width[i], utf8.RuneCountInString(line))
			}
		}
	}
	var b strings.Builder
	sep := func() {
		b.WriteByte('+')
		for _, n := range width {
			b.WriteString(strings.Repeat("-", n+2))
			b.WriteByte('+')
		}
		b.WriteByte('\n')
	}
	row := func(cells []string) {
		lines := make([][]string, len(cells))
		height := 1
		for i, c := range cells {
			lines[i] = strings.Split(c, "\n")
			height = max(height, len(lines[i]))
		}
		for l := 0; l < height; l++ {
			b.WriteByte('|')
			for i := range cells {
				s := ""
				if l < len(lines[i]) {
					s = lines[i][l]
				}
				b.WriteByte(' ')
				b.WriteString(s)
				b.WriteString(strings.Repeat(" ", width[i]-utf8.RuneCountInString(s)+1))
				b.WriteByte('|')
			}
			b.WriteByte('\n')
		}
	}
	sep()
	row(header)
	sep()
	for _, r := range rows {
		row(r)
	}
	sep()
	_, err := io.WriteString(w, b.String())
	return err
}

// toFields turns an API object into its JSON keys and values.
func toFields(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return m, nil
}

// formatValue renders one attribute for a table cell.
func formatValue(key string, v any) string {
	switch key {
	case "devices":
		return formatDevices(v)
	case "fixed_ips":
		return formatList(v, func(m map[string]any) string { return str(m["ip_address"]) })
	case "allowed_address_pairs":
		return formatList(v, func(m map[string]any) string {
			return strings.TrimSpace(str(m["ip_address"]) + " " + str(m["mac_address"]))
		})
	case "ports":
		return formatList(v, func(m map[string]any) string {
			s := str(m["name"])
			if f := formatValue("", m["fault_status"]); f != "" {
				s += " (" + f + ")"
			}
			return s
		})
	}
	return str(v)
}

// str renders a JSON value: strings as is, null as "", lists comma-separated
// (objects in them as compact JSON, one per line).
func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		parts := make([]string, len(x))
		sep := ", "
		for i, e := range x {
			if _, ok := e.(map[string]any); ok {
				sep = "\n"
			}
			parts[i] = str(e)
		}
		return strings.Join(parts, sep)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func formatList(v any, f func(map[string]any) string) string {
	l, ok := v.([]any)
	if !ok {
		return str(v)
	}
	parts := make([]string, 0, len(l))
	for _, e := range l {
		m, ok := e.(map[string]any)
		if !ok {
			parts = append(parts, str(e))
			continue
		}
		parts = append(parts, f(m))
	}
	return strings.Join(parts, "\n")
}

// formatDevices shows each device on a line in the --device syntax:
// "gatewayhost: port1;port2:100,101".
func formatDevices(v any) string {
	return formatList(v, func(d map[string]any) string {
		var ifs []string
		if l, ok := d["interfaces"].([]any); ok {
			for _, e := range l {
				m, ok := e.(map[string]any)
				if !ok {
					continue
				}
				s := str(m["name"])
				if segs := str(m["segmentation_id"]); segs != "" {
					s += ":" + strings.ReplaceAll(segs, ", ", ",")
				}
				ifs = append(ifs, s)
			}
		}
		return str(d["device_name"]) + ": " + strings.Join(ifs, ";")
	})
}

// output is how a client command prints: the -f/--format and the
// -c/--column flags.
type output struct {
	format  string
	columns []string // empty: the command's default columns (lists) or every field (show)
}

// check validates -f.
func (o output) check() error {
	switch o.format {
	case formatTable, formatJSON, formatYAML, formatValues, formatCSV:
		return nil
	}
	return fmt.Errorf("-f/--format %q: want one of %s", o.format, strings.Join(formats, ", "))
}

// pick returns the columns to print out of known (in order), or an error
// naming a -c that is not one of them.
func (o output) pick(known []string, defaults []string) ([]string, error) {
	if len(o.columns) == 0 {
		return defaults, nil
	}
	has := make(map[string]bool, len(known))
	for _, k := range known {
		has[k] = true
	}
	for _, c := range o.columns {
		if !has[c] {
			return nil, fmt.Errorf("-c/--column %q: no such column; want one of %s", c, strings.Join(known, ", "))
		}
	}
	return o.columns, nil
}

// printObject writes one API object: a Field/Value table (keys sorted, as
// neutron's show), JSON or YAML (the object; only the -c keys when given),
// its values one per line (value), or a quoted header and row (csv).
func printObject(w io.Writer, o output, v any) error {
	if o.format == formatJSON && len(o.columns) == 0 {
		return writeJSON(w, v)
	}
	m, err := toFields(v)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	keys, err = o.pick(keys, keys)
	if err != nil {
		return err
	}
	switch o.format {
	case formatJSON:
		return writeJSON(w, only(m, keys))
	case formatYAML:
		return writeYAML(w, only(m, keys))
	case formatValues:
		var b strings.Builder
		for _, k := range keys {
			b.WriteString(oneLine(formatValue(k, m[k])))
			b.WriteByte('\n')
		}
		_, err := io.WriteString(w, b.String())
		return err
	case formatCSV:
		row := make([]string, len(keys))
		for i, k := range keys {
			row[i] = oneLine(formatValue(k, m[k]))
		}
		return writeCSV(w, keys, [][]string{row})
	}
	rows := make([][]string, len(keys))
	for i, k := range keys {
		rows[i] = []string{k, formatValue(k, m[k])}
	}
	return writeTable(w, []string{"Field", "Value"}, rows)
}

// printList writes API objects as rows: a table of the given columns (or
// the -c ones), a JSON or YAML array of the objects (only the -c keys when
// given), one line of space-separated values per object (value, no
// header), or a quoted CSV header and rows. extra, when not nil, adds keys
// to each object (names beside ids).
func printList[T any](w io.Writer, o output, items []T, columns []string, extra func(i int, m map[string]any)) error {
	if o.format == formatJSON && len(o.columns) == 0 && extra == nil {
		if items == nil {
			items = []T{}
		}
		return writeJSON(w, items)
	}
	objs := make([]map[string]any, 0, len(items))
	known := append([]string(nil), columns...)
	seen := make(map[string]bool, len(columns))
	for _, c := range columns {
		seen[c] = true
	}
	for i, it := range items {
		m, err := toFields(it)
		if err != nil {
			return err
		}
		if extra != nil {
			extra(i, m)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			if !seen[k] {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			seen[k] = true
			known = append(known, k)
		}
		objs = append(objs, m)
	}
	cols, err := o.pick(known, columns)
	if err != nil && len(objs) > 0 {
		return err
	}
	if err != nil {
		cols = o.columns // an empty list: nothing tells which keys exist
	}
	switch o.format {
	case formatJSON, formatYAML:
		out := make([]map[string]any, len(objs))
		for i, m := range objs {
			if len(o.columns) > 0 {
				m = only(m, cols)
			}
			out[i] = m
		}
		if o.format == formatJSON {
			return writeJSON(w, out)
		}
		return writeYAML(w, out)
	}
	rows := make([][]string, len(objs))
	for i, m := range objs {
		r := make([]string, len(cols))
		for j, c := range cols {
			r[j] = formatValue(c, m[c])
			if o.format != formatTable {
				r[j] = oneLine(r[j])
			}
		}
		rows[i] = r
	}
	switch o.format {
	case formatValues:
		var b strings.Builder
		for _, r := range rows {
			b.WriteString(strings.Join(r, " "))
			b.WriteByte('\n')
		}
		_, err := io.WriteString(w, b.String())
		return err
	case formatCSV:
		return writeCSV(w, cols, rows)
	}
	return writeTable(w, cols, rows)
}

// only is m restricted to keys (absent keys are null, as the table shows
// them empty).
func only(m map[string]any, keys []string) map[string]any {
	out := make(map[string]any, len(keys))
	for _, k := range keys {
		out[k] = m[k]
	}
	return out
}

// oneLine joins a multi-line cell (devices, fixed IPs) with "; " for the
// line-oriented formats.
func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }

// writeCSV writes a header and rows with every field quoted, as
// openstackclient's csv formatter does.
func writeCSV(w io.Writer, header []string, rows [][]string) error {
	var b strings.Builder
	line := func(cells []string) {
		for i, c := range cells {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('"')
			b.WriteString(strings.ReplaceAll(c, `"`, `""`))
			b.WriteByte('"')
		}
		b.WriteByte('\n')
	}
	line(header)
	for _, r := range rows {
		line(r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeYAML writes v as YAML with its JSON keys (the API's attribute
// names) and its numbers as written (VNIs as integers, not 1.6777215e+07).
func writeYAML(w io.Writer, v any) error {
	j, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode yaml: %w", err)
	}
	d := json.NewDecoder(bytes.NewReader(j))
	d.UseNumber()
	var generic any
	if err := d.Decode(&generic); err != nil {
		return fmt.Errorf("encode yaml: %w", err)
	}
	b, err := yaml.Marshal(yamlNumbers(generic))
	if err != nil {
		return fmt.Errorf("encode yaml: %w", err)
	}
	_, err = w.Write(b)
	return err
}

// yamlNumbers replaces the json.Numbers in v by int64 or float64, which
// YAML writes as numbers.
func yamlNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = yamlNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = yamlNumbers(e)
		}
	}
	return v
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}
