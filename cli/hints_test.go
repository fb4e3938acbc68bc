package cli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// hintLiteral is a string literal of the repository's non-test Go source.
type hintLiteral struct {
	pos  string // file:line
	text string
}

// repoLiterals returns every string literal of the non-test Go source of
// the module (the directory above cli), bench tools excepted: they are
// separate programs with their own flags.
func repoLiterals(t *testing.T) []hintLiteral {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	var out []hintLiteral
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == "bench" || rel == "tests" || strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			p := fset.Position(lit.Pos())
			out = append(out, hintLiteral{pos: rel + ":" + strconv.Itoa(p.Line), text: s})
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 1000 {
		t.Fatalf("found only %d string literals under %s: is the walk broken?", len(out), root)
	}
	return out
}

// commandMention is a "sqlink ..." command line inside a string: the words
// after "sqlink" up to the end of the command (a backtick, a quote, a
// bracket, a comma, a semicolon or the end of the line).
var commandMention = regexp.MustCompile("(^|[^A-Za-z0-9_./-])(`?)sqlink ([^`\"(),;\n]*)")

// checkMention resolves one mention against the command tree and returns
// what is wrong with it, or "" when it names a command that exists and
// only flags that command takes. quoted says the mention was in backticks,
// where it can only be a command line; outside them "sqlink" followed by a
// word that is no command is prose ("a sqlink release").
func checkMention(root *cobra.Command, words []string, quoted bool) string {
	for i, w := range words {
		words[i] = strings.TrimRight(w, ".:")
	}
	if len(words) == 0 || words[0] == "" {
		return ""
	}
	cmd := root
	i := 0
	for ; i < len(words); i++ {
		next := subcommand(cmd, words[i])
		if next == nil {
			break
		}
		cmd = next
	}
	if cmd == root {
		if quoted && !strings.HasPrefix(words[0], "-") {
			return "no command " + strconv.Quote(words[0])
		}
		if !quoted {
			return ""
		}
	}
	if i < len(words) && !cmd.Runnable() && regexp.MustCompile(`^[a-z][a-z-]*$`).MatchString(words[i]) {
		return cmd.CommandPath() + " has no subcommand " + strconv.Quote(words[i])
	}
	for _, w := range words[i:] {
		if !strings.HasPrefix(w, "--") || len(w) == 2 {
			continue
		}
		name, _, _ := strings.Cut(w[2:], "=")
		if cmd.Flag(name) == nil {
			return cmd.CommandPath() + " has no flag --" + name
		}
	}
	return ""
}

func subcommand(cmd *cobra.Command, name string) *cobra.Command {
	for _, c := range cmd.Commands() {
		if c.Name() == name || c.HasAlias(name) {
			return c
		}
	}
	return nil
}

// TestHints_NameCommandsThatExist walks every `sqlink ...` command line
// that a string of the source mentions (hints, help texts, printed
// advice) to the command tree: the command exists and takes every flag
// named after it.
func TestHints_NameCommandsThatExist(t *testing.T) {
	root := testRoot()
	checked := 0
	for _, lit := range repoLiterals(t) {
		for _, m := range commandMention.FindAllStringSubmatch(lit.text, -1) {
			checked++
			if bad := checkMention(root, strings.Fields(m[3]), m[2] == "`"); bad != "" {
				t.Errorf("%s: %q: %s", lit.pos, "sqlink "+strings.TrimSpace(m[3]), bad)
			}
		}
	}
	if checked < 30 {
		t.Fatalf("only %d mentions of sqlink commands found: is the pattern broken?", checked)
	}
}

// flagMention is a "--flag" inside a string.
var flagMention = regexp.MustCompile(`(^|[^A-Za-z0-9-])--([a-z][a-z0-9-]*)`)

// TestHints_NameFlagsThatExist checks every --flag a string of the source
// names, with or without a command before it: some command takes it.
func TestHints_NameFlagsThatExist(t *testing.T) {
	root := testRoot()
	known := map[string]bool{"help": true, "version": true}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { known[f.Name] = true })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { known[f.Name] = true })
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for _, lit := range repoLiterals(t) {
		for _, m := range flagMention.FindAllStringSubmatch(lit.text, -1) {
			if !known[m[2]] {
				t.Errorf("%s: no command takes --%s (in %q)", lit.pos, m[2], lit.text)
			}
		}
	}
}

// TestCheckMention checks the checker on mentions known good and bad.
func TestCheckMention(t *testing.T) {
	root := testRoot()
	for _, tc := range []struct {
		line   string
		quoted bool
		bad    bool
	}{
		{"db complete-restore %s", true, false},
		{"restore --complete", true, true},
		{"restore %s --from FILE --restoring", false, true},
		{"restore FILE --as %s --restoring --server <secondary>", false, false},
		{"link status demo --primary %s --primary-token %s", false, false},
		{"link statuz", true, true},
		{"version", true, true},
		{"release at least as new", false, false},
	} {
		if got := checkMention(root, strings.Fields(tc.line), tc.quoted); (got != "") != tc.bad {
			t.Errorf("sqlink %s: got %q, want bad=%v", tc.line, got, tc.bad)
		}
	}
}

// testRoot returns the command tree with the --help and --version flags
// cobra adds only when it runs a command.
func testRoot() *cobra.Command {
	root := (&Main{Stdout: os.Stdout, Stderr: os.Stderr}).rootCommand()
	root.InitDefaultVersionFlag()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.InitDefaultHelpFlag()
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return root
}
