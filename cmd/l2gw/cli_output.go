package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Output formats of the client commands.
const (
	formatTable = "table"
	formatJSON  = "json"
)

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

// printObject writes one API object: a Field/Value table (keys sorted, as
// neutron's show) or indented JSON.
func printObject(w io.Writer, format string, v any) error {
	if format == formatJSON {
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
	rows := make([][]string, len(keys))
	for i, k := range keys {
		rows[i] = []string{k, formatValue(k, m[k])}
	}
	return writeTable(w, []string{"Field", "Value"}, rows)
}

// printList writes API objects: a table of the given columns or a JSON array.
func printList[T any](w io.Writer, format string, items []T, columns []string) error {
	if format == formatJSON {
		if items == nil {
			items = []T{}
		}
		return writeJSON(w, items)
	}
	rows := make([][]string, 0, len(items))
	for _, it := range items {
		m, err := toFields(it)
		if err != nil {
			return err
		}
		r := make([]string, len(columns))
		for i, c := range columns {
			r[i] = formatValue(c, m[c])
		}
		rows = append(rows, r)
	}
	return writeTable(w, columns, rows)
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
