package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/l2gw/l2gw/internal/testenv"
	"github.com/l2gw/l2gw/internal/version"
)

// runRoot runs the l2gw root command with args and returns its stdout.
func runRoot(t *testing.T, args ...string) string {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("l2gw %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

func TestVersion(t *testing.T) {
	want := "l2gw " + version.Get().String() + "\n"
	for _, args := range [][]string{{"--version"}, {"version"}} {
		if got := runRoot(t, args...); got != want {
			t.Errorf("l2gw %s = %q; want %q", strings.Join(args, " "), got, want)
		}
	}
}

// TestCompletion checks that the generated scripts are valid shell and that
// the completions they ask l2gw for (cobra's scripts call `l2gw __complete`)
// offer l2gw's sub-commands.
func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		t.Run(sh, func(t *testing.T) {
			script := runRoot(t, "completion", sh)
			if !strings.Contains(script, "__complete") {
				t.Errorf("l2gw completion %s does not call `l2gw __complete`:\n%s", sh, script)
			}
			shell, err := exec.LookPath(sh)
			if err != nil {
				if sh == "bash" {
					t.Fatalf("bash: %v", err)
				}
				t.Skipf("%s not installed", sh)
			}
			f := filepath.Join(t.TempDir(), "l2gw."+sh)
			if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(shell, "-n", f).CombinedOutput(); err != nil {
				t.Errorf("%s -n on l2gw completion %s: %v\n%s", sh, sh, err, out)
			}
		})
	}
	got := runRoot(t, "__complete", "")
	for _, sub := range []string{"server", "switch-agent", "host-agent", "soft-vtep", "version", "l2-gateway-create"} {
		if !strings.Contains(got, "\n"+sub+"\t") {
			t.Errorf("l2gw __complete \"\" does not offer %s:\n%s", sub, got)
		}
	}
	if strings.Contains(got, "\nman\t") {
		t.Errorf("l2gw __complete \"\" offers the hidden man command:\n%s", got)
	}
}

// TestBashCompletion completes `l2gw s` and `l2gw server --b` with the
// generated script loaded by bash-completion, as an interactive bash does.
func TestBashCompletion(t *testing.T) {
	const lib = "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(lib); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("bash-completion: %v", err)
		}
		t.Skipf("bash-completion: %v", err)
	}
	bin := testenv.BuildL2GW(t)
	script := filepath.Join(t.TempDir(), "l2gw.bash")
	if err := os.WriteFile(script, []byte(runRoot(t, "completion", "bash")), 0o644); err != nil {
		t.Fatal(err)
	}
	complete := func(words ...string) []string {
		t.Helper()
		// __start_l2gw runs `l2gw __complete …`: the binary must be on PATH.
		cmd := exec.Command("bash", "-c", `source "$1"; source "$2"; shift 2
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
__start_l2gw l2gw "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}" 2>/dev/null
printf '%s\n' "${COMPREPLY[@]}"`, "bash", lib, script)
		cmd.Args = append(cmd.Args, words...)
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("complete %q: %v", words, err)
		}
		return strings.Fields(string(out))
	}
	got := complete("l2gw", "s")
	for _, want := range []string{"server", "soft-vtep", "switch-agent", "switch-list"} {
		if !slices.Contains(got, want) {
			t.Errorf("completions of `l2gw s` = %q; want %s among them", got, want)
		}
	}
	for _, c := range got {
		if !strings.HasPrefix(c, "s") {
			t.Errorf("completions of `l2gw s` = %q; want only words starting with s", got)
		}
	}
	if diff := cmp.Diff([]string{"--bind"}, complete("l2gw", "server", "--b")); diff != "" {
		t.Errorf("completions of `l2gw server --b` (-want +got):\n%s", diff)
	}
}

func TestManPages(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000") // 2023-11-14
	dir := filepath.Join(t.TempDir(), "man1")
	runRoot(t, "man", dir)
	for _, page := range []string{"l2gw.1", "l2gw-server.1", "l2gw-host-agent.1", "l2gw-version.1"} {
		b, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte(".nh\n.TH \"L2GW\" \"1\" \"Nov 2023\"")) {
			t.Errorf("%s does not start as a man page: %.80q", page, b)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "l2gw-man.1")); err == nil {
		t.Error("l2gw-man.1 written for the hidden man command")
	}
}
