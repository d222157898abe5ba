package docs

import (
	"bufio"
	"fmt"
	"strings"
)

// Walkthrough is the sh blocks of the README marked with one walkthrough
// name, in README order.
type Walkthrough struct {
	Name   string
	Root   bool // some marker says "as root"
	Blocks []Block
}

// Block is a fenced sh block: its lines and the README line number of the
// first one.
type Block struct {
	Line  int
	Lines []string
}

// shellInfo are the fence info strings of shell blocks, which must carry
// a marker.
var shellInfo = map[string]bool{"sh": true, "bash": true, "shell": true, "console": true}

// ParseWalkthroughs returns the walkthroughs of a markdown text, in the
// order of their first block. Every shell block must follow a
// <!-- walkthrough: NAME[, as root] --> or <!-- not run: reason --> line
// (blank lines between are allowed), and every marker must be followed by
// a shell block: an unmarked block would silently go untested.
func ParseWalkthroughs(md string) ([]Walkthrough, error) {
	var (
		out      []Walkthrough
		index    = map[string]int{}
		marker   string // pending marker text
		markerAt int
		fence    string // the opening fence while inside a block
		cur      *Block // the block being read, nil when not run
		errs     []string
	)
	sc := bufio.NewScanner(strings.NewReader(md))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trim := strings.TrimSpace(line)
		if fence != "" {
			if trim == fence {
				if cur != nil {
					w := &out[index[marker]]
					w.Blocks = append(w.Blocks, *cur)
				}
				fence, cur, marker = "", nil, ""
			} else if cur != nil {
				cur.Lines = append(cur.Lines, line)
			}
			continue
		}
		switch {
		case strings.HasPrefix(trim, "```"):
			fence = trim[:len(trim)-len(strings.TrimLeft(trim, "`"))]
			info := strings.TrimSpace(strings.TrimPrefix(trim, fence))
			if !shellInfo[info] {
				if marker != "" {
					errs = append(errs, fmt.Sprintf("line %d: marker before a %q block, not a shell block", markerAt, info))
				}
				marker = ""
				continue
			}
			switch {
			case marker == "":
				errs = append(errs, fmt.Sprintf("line %d: %s block without <!-- walkthrough: NAME --> or <!-- not run: reason --> before it", n, info))
			case strings.HasPrefix(marker, "walkthrough:"):
				spec := strings.TrimSpace(strings.TrimPrefix(marker, "walkthrough:"))
				name, opt, _ := strings.Cut(spec, ",")
				name = strings.TrimSpace(name)
				if _, ok := index[name]; !ok {
					index[name] = len(out)
					out = append(out, Walkthrough{Name: name})
				}
				switch strings.TrimSpace(opt) {
				case "":
				case "as root":
					out[index[name]].Root = true
				default:
					errs = append(errs, fmt.Sprintf("line %d: unknown walkthrough option %q (want \"as root\")", markerAt, opt))
				}
				marker = name
				cur = &Block{Line: n + 1}
			}
		case strings.HasPrefix(trim, "<!--") && strings.HasSuffix(trim, "-->"):
			m := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(trim, "<!--"), "-->"))
			switch {
			case strings.HasPrefix(m, "walkthrough:") && strings.TrimSpace(strings.TrimPrefix(m, "walkthrough:")) != "":
			case strings.HasPrefix(m, "not run:") && strings.TrimSpace(strings.TrimPrefix(m, "not run:")) != "":
			default:
				continue // another comment
			}
			if marker != "" {
				errs = append(errs, fmt.Sprintf("line %d: marker not followed by a shell block", markerAt))
			}
			marker, markerAt = m, n
		case trim == "":
		default:
			if marker != "" {
				errs = append(errs, fmt.Sprintf("line %d: marker not followed by a shell block", markerAt))
				marker = ""
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if fence != "" {
		errs = append(errs, "unterminated code block")
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("README markers: %s", strings.Join(errs, "; "))
	}
	return out, nil
}

// Script is w's blocks as one bash script in which every command sits on
// its README line number (other lines are blank), so that bash's $LINENO
// is the README line. Line 1 (a block's fence at the earliest) sets the
// trace prompt of bash -x to show it; bash as root ignores PS4 from the
// environment.
func (w Walkthrough) Script() string {
	var b strings.Builder
	b.WriteString("PS4='+ README.md:${LINENO}: '\n")
	line := 2
	for _, blk := range w.Blocks {
		for ; line < blk.Line; line++ {
			b.WriteByte('\n')
		}
		for _, l := range blk.Lines {
			b.WriteString(l)
			b.WriteByte('\n')
			line++
		}
	}
	return b.String()
}
