package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/l2gw/l2gw/bench/internal/figures"
)

// stat is the median, min and max of one figure over the runs.
type stat figures.Spread[float64]

func statOf(v []float64) stat {
	s, _ := figures.Of(v)
	return stat(s)
}

func (s stat) String() string {
	return fmt.Sprintf("%s (%s–%s)", num(s.Med), num(s.Min), num(s.Max))
}

// num prints a figure with 3 significant digits and thousands separators.
func num(v float64) string {
	switch {
	case v >= 100:
		s := strconv.FormatFloat(v, 'f', 0, 64)
		for i := len(s) - 3; i > 0; i -= 3 {
			s = s[:i] + "," + s[i:]
		}
		return s
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// over applies f to every run.
func over(rs []result, f func(result) float64) stat {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	return statOf(v)
}

func p(kind string, q float64) func(result) float64 {
	return func(r result) float64 { return ms(figures.Quantile(r.lat[kind], q)) }
}

// worstP99 is a run's highest p99 over its request kinds.
func worstP99(r result) float64 {
	w := 0.0
	for k := range r.lat {
		w = max(w, p(k, 0.99)(r))
	}
	return w
}

func kinds(rs []result) []string {
	var ks []string
	for _, r := range rs {
		for k := range r.lat {
			if !slices.Contains(ks, k) {
				ks = append(ks, k)
			}
		}
	}
	// Creates before deletes, as the requests are sent.
	slices.SortFunc(ks, func(a, b string) int { return strings.Compare(b, a) })
	return ks
}

func printReport(w io.Writer, o options, rep report) {
	db := "SQLite"
	if o.database != "sqlite" {
		db = "PostgreSQL"
	}
	fmt.Fprintf(w, "\n## l2gw API (%s), %d runs of %s each, median (min–max)\n\n", db, o.runs, o.duration)
	fmt.Fprintln(w, "CPU columns: CPUs used by the server, and by other processes than server and bench (noise), medians.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| scenario | C | rate | request | p50 ms | p99 ms | errors | server CPU | others CPU |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for si, sc := range scenarios {
		for ci, c := range o.conc {
			rs := rep.results[si][ci]
			errs := 0
			for _, r := range rs {
				errs += r.errs
			}
			for ki, k := range kinds(rs) {
				name, cs, rate, es, scpu, ocpu := "", "", "", "", "", ""
				if ki == 0 {
					name, cs, es = sc.name, strconv.Itoa(c), strconv.Itoa(errs)
					rate = over(rs, func(r result) float64 { return r.rate }).String() + " " + sc.unit
					scpu = num(over(rs, func(r result) float64 { return r.cpu.server }).Med)
					ocpu = num(over(rs, func(r result) float64 { return r.cpu.others }).Med)
				}
				fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name, cs, rate, k,
					num(over(rs, p(k, 0.5)).Med), over(rs, p(k, 0.99)), es, scpu, ocpu)
			}
		}
	}

	fmt.Fprintf(w, "\n## Against the original (neutron-server + networking-l2gw, PostgreSQL)\n\n")
	fmt.Fprintf(w, "Cells: l2gw median (worst p99 over request kinds) / original → ratio.\n\n")
	fmt.Fprintf(w, "| scenario |")
	for _, c := range o.conc {
		fmt.Fprintf(w, " C=%d |", c)
	}
	fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---|", len(o.conc)))
	for si, sc := range scenarios {
		fmt.Fprintf(w, "| %s, %s (p99) |", sc.name, sc.unit)
		for ci, c := range o.conc {
			rs := rep.results[si][ci]
			rate := over(rs, func(r result) float64 { return r.rate }).Med
			cell := fmt.Sprintf("%s (%s ms)", num(rate), num(over(rs, worstP99).Med))
			if orig, ok := sc.orig[c]; ok {
				op := ""
				if orig[1] > 0 {
					op = fmt.Sprintf(" (%s ms)", num(orig[1]))
				}
				cell += fmt.Sprintf(" / %s%s → %s×", num(orig[0]), op, num(rate/orig[0]))
			}
			fmt.Fprintf(w, " %s |", cell)
		}
		fmt.Fprintln(w)
	}

	starts := make([]float64, len(rep.starts))
	for i, d := range rep.starts {
		starts[i] = ms(d)
	}
	st := statOf(starts)
	fmt.Fprintf(w, "\nServer RSS: idle %.1f MB, after the run %.1f MB, peak %.1f MB (original ~929 MB idle).\n",
		mb(rep.rssIdle), mb(rep.rssEnd), mb(rep.peak))
	fmt.Fprintf(w, "First answer after process start: %s ms over %d starts (original 1.9 s).\n", st, len(starts))
	if o.inproc {
		fmt.Fprintln(w, "(-inprocess: RSS and start-up are of the bench process itself, not comparable.)")
	}

	// The targets, at C=32 (or the highest concurrency run).
	ci := slices.Index(o.conc, 32)
	if ci < 0 {
		ci = slices.Index(o.conc, slices.Max(o.conc))
	}
	c := o.conc[ci]
	fmt.Fprintf(w, "\nTargets (at C=%d):\n", c)
	check := func(ok bool, format string, args ...any) {
		mark := "ok  "
		if !ok {
			mark = "MISS"
		}
		fmt.Fprintf(w, "- %s %s\n", mark, fmt.Sprintf(format, args...))
	}
	for si, sc := range scenarios {
		rs := rep.results[si][ci]
		rate := over(rs, func(r result) float64 { return r.rate }).Med
		errs := 0
		for _, r := range rs {
			errs += r.errs
		}
		p99 := over(rs, worstP99).Med
		check(rate >= sc.target, "%s: %s %s ≥ %s", sc.name, num(rate), sc.unit, num(sc.target))
		check(errs == 0, "%s: %d errors", sc.name, errs)
		check(p99 < 20, "%s: p99 %s ms < 20 ms", sc.name, num(p99))
	}
	check(mb(rep.rssIdle) < 40, "RSS idle %.1f MB < 40 MB", mb(rep.rssIdle))
	check(st.Med < 200, "first answer %s ms < 200 ms", num(st.Med))
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }
