package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/sqlink/sqlink"
)

// The guided operations (SPEC section 6): `link create` and `link
// failover` run on a terminal without flags start a wizard of pages, the
// way the reference's New Link and Failover wizards do. The wizard only
// gathers answers, validates and shows what will be done; the work is done
// by the same code as the non-interactive commands (linkcreate.Creator,
// runFailover), and Summary's Script is the same as --script prints.
//
// Keys on every page: Tab/Shift-Tab (or Up/Down) move between fields,
// Space toggles a check box or choice, Enter goes to the next page, Esc
// goes back, Ctrl-C cancels: before Executing nothing has been changed.

// isTTY reports whether f (a reader or writer) is a terminal.
func isTTY(f any) bool {
	file, ok := f.(*os.File)
	// A character device is not enough: /dev/null is one.
	return ok && term.IsTerminal(file.Fd())
}

// globalFlags are the root's flags, which do not by themselves turn the
// wizard off: they say where the instance is, not what to do.
var globalFlags = map[string]bool{"server": true, "token": true, "ca-file": true, "fingerprint": true, "no-input": true}

// wantWizard reports whether cmd should run its wizard: stdin and stdout
// are terminals, --no-input and --json are not given, and no flag of the
// command itself is.
func (m *Main) wantWizard(cmd *cobra.Command) bool {
	if f := cmd.Flags().Lookup("no-input"); f != nil && f.Value.String() == "true" {
		return false
	}
	if m.json || m.output == "json" || !isTTY(m.Stdin) || !isTTY(m.Stdout) {
		return false
	}
	flags := false
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if !globalFlags[f.Name] {
			flags = true
		}
	})
	return !flags
}

// addNoInput adds --no-input to a command that has a wizard.
func addNoInput(cmd *cobra.Command) {
	cmd.Flags().Bool("no-input", false, "never start the wizard: a missing flag is an error, even on a terminal")
}

// Field kinds.
const (
	fieldText = iota
	fieldSecret
	fieldCheck
	fieldChoice
)

// wizField is one answer on a page.
type wizField struct {
	key, label, help string
	kind             int
	input            textinput.Model
	on               bool     // fieldCheck
	choices          []string // fieldChoice
	choice           int
	hidden           func() bool
}

func textField(key, label, value, help string) *wizField {
	ti := textinput.New()
	ti.SetValue(value)
	ti.Prompt = ""
	ti.CharLimit = 4096
	ti.Width = 60
	return &wizField{key: key, label: label, help: help, kind: fieldText, input: ti}
}

func secretField(key, label, value, help string) *wizField {
	f := textField(key, label, value, help)
	f.kind = fieldSecret
	f.input.EchoMode = textinput.EchoPassword
	f.input.EchoCharacter = '*'
	return f
}

func checkField(key, label string, on bool, help string) *wizField {
	return &wizField{key: key, label: label, help: help, kind: fieldCheck, on: on}
}

func choiceField(key, label string, choices []string, help string) *wizField {
	return &wizField{key: key, label: label, help: help, kind: fieldChoice, choices: choices}
}

func (f *wizField) value() string {
	switch f.kind {
	case fieldCheck:
		return fmt.Sprint(f.on)
	case fieldChoice:
		if len(f.choices) == 0 {
			return ""
		}
		return f.choices[f.choice]
	}
	return strings.TrimSpace(f.input.Value())
}

func (f *wizField) visible() bool { return f.hidden == nil || !f.hidden() }

// wizKey is a page's own action, e.g. r to re-run validation.
type wizKey struct {
	key, help string
	do        func() tea.Cmd
}

// wizPage is one page of a wizard.
type wizPage struct {
	title  string
	fields []*wizField
	// body renders the page's live content below its fields.
	body func() string
	// enter runs when the page is shown (going forward or back).
	enter func() tea.Cmd
	// next checks the answers before moving on; an error stays on the page.
	next func() error
	keys []wizKey
	// skip hides the page (e.g. the primary's sign-in when flags gave it).
	skip func() bool
	// noBack: Executing and Results cannot go back.
	noBack bool
	// last: Enter on this page ends the wizard.
	last bool
	// finish: Enter starts the work (the page's label says Finish).
	finish bool
}

// wizard is a bubbletea model running pages in order.
type wizard struct {
	name      string // e.g. "New Link wizard"
	pages     []*wizPage
	cur       int
	focus     int
	err       error
	cancelled bool
	done      bool
	// running: the page's work is in progress; Enter and Esc wait.
	running bool
	width   int
	height  int
}

// wizMsg carries a function to run on the wizard's goroutine, so that work
// done in the background updates the pages safely.
type wizMsg func()

func (w *wizard) Init() tea.Cmd { return w.enterPage() }

func (w *wizard) page() *wizPage { return w.pages[w.cur] }

func (w *wizard) visibleFields() []*wizField {
	var out []*wizField
	for _, f := range w.page().fields {
		if f.visible() {
			out = append(out, f)
		}
	}
	return out
}

func (w *wizard) enterPage() tea.Cmd {
	w.focus, w.err = 0, nil
	cmds := []tea.Cmd{w.setFocus()}
	if p := w.page(); p.enter != nil {
		cmds = append(cmds, p.enter())
	}
	return tea.Batch(cmds...)
}

func (w *wizard) setFocus() tea.Cmd {
	var cmd tea.Cmd
	for i, f := range w.visibleFields() {
		if f.kind != fieldText && f.kind != fieldSecret {
			continue
		}
		if i == w.focus {
			cmd = f.input.Focus()
		} else {
			f.input.Blur()
		}
	}
	return cmd
}

func (w *wizard) move(dir int) tea.Cmd {
	for i := w.cur + dir; i >= 0 && i < len(w.pages); i += dir {
		if p := w.pages[i]; p.skip == nil || !p.skip() {
			w.cur = i
			return w.enterPage()
		}
	}
	return nil
}

func (w *wizard) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case wizMsg:
		msg()
		if w.done {
			return w, tea.Quit
		}
		return w, nil
	case tea.WindowSizeMsg:
		w.width, w.height = msg.Width, msg.Height
		return w, nil
	case tea.KeyMsg:
		return w, w.key(msg)
	}
	return w, nil
}

func (w *wizard) key(k tea.KeyMsg) tea.Cmd {
	p := w.page()
	fields := w.visibleFields()
	var f *wizField
	if w.focus < len(fields) {
		f = fields[w.focus]
	}
	switch k.String() {
	case "ctrl+c":
		if p.noBack && !p.last {
			// Executing: the work decides how to stop (it undoes).
			if p.keys != nil {
				for _, pk := range p.keys {
					if pk.key == "ctrl+c" {
						return pk.do()
					}
				}
			}
			return nil
		}
		w.cancelled = !p.last
		return tea.Quit
	case "esc":
		if p.noBack || w.running {
			if p.last {
				return tea.Quit
			}
			return nil
		}
		if w.cur == 0 {
			w.cancelled = true
			return tea.Quit
		}
		return w.move(-1)
	case "tab", "down":
		if len(fields) > 0 {
			w.focus = (w.focus + 1) % len(fields)
		}
		return w.setFocus()
	case "shift+tab", "up":
		if len(fields) > 0 {
			w.focus = (w.focus + len(fields) - 1) % len(fields)
		}
		return w.setFocus()
	case "enter":
		if w.running {
			return nil
		}
		if p.last {
			w.done = true
			return tea.Quit
		}
		if p.next != nil {
			if err := p.next(); err != nil {
				w.err = err
				return nil
			}
		}
		if w.done {
			return tea.Quit
		}
		return w.move(1)
	case " ":
		if f != nil && f.kind == fieldCheck {
			f.on = !f.on
			return nil
		}
		if f != nil && f.kind == fieldChoice && len(f.choices) > 0 {
			f.choice = (f.choice + 1) % len(f.choices)
			return nil
		}
	case "left", "right":
		if f != nil && f.kind == fieldChoice && len(f.choices) > 0 {
			d := 1
			if k.String() == "left" {
				d = len(f.choices) - 1
			}
			f.choice = (f.choice + d) % len(f.choices)
			return nil
		}
	}
	if f == nil || (f.kind != fieldText && f.kind != fieldSecret) {
		for _, pk := range p.keys {
			if pk.key == k.String() && !w.running {
				return pk.do()
			}
		}
		return nil
	}
	var cmd tea.Cmd
	f.input, cmd = f.input.Update(k)
	return cmd
}

func (w *wizard) View() string {
	var b strings.Builder
	p := w.page()
	fmt.Fprintf(&b, "sqlink %s\n", w.name)
	var steps []string
	for i, pg := range w.pages {
		if pg.skip != nil && pg.skip() {
			continue
		}
		if i == w.cur {
			steps = append(steps, "["+pg.title+"]")
		} else {
			steps = append(steps, pg.title)
		}
	}
	b.WriteString(wrap(strings.Join(steps, " > "), 100))
	fmt.Fprintf(&b, "\n\n== %s ==\n\n", p.title)
	fields := w.visibleFields()
	for i, f := range fields {
		mark := "  "
		if i == w.focus {
			mark = "> "
		}
		switch f.kind {
		case fieldCheck:
			box := "[ ]"
			if f.on {
				box = "[x]"
			}
			fmt.Fprintf(&b, "%s%s %s\n", mark, box, f.label)
		case fieldChoice:
			var cs []string
			for j, c := range f.choices {
				if j == f.choice {
					cs = append(cs, "(*) "+c)
				} else {
					cs = append(cs, "( ) "+c)
				}
			}
			fmt.Fprintf(&b, "%s%s: %s\n", mark, f.label, strings.Join(cs, "  "))
		default:
			fmt.Fprintf(&b, "%s%s: %s\n", mark, f.label, f.input.View())
		}
		if i == w.focus && f.help != "" {
			fmt.Fprintf(&b, "    %s\n", f.help)
		}
	}
	if len(fields) > 0 {
		b.WriteString("\n")
	}
	if p.body != nil {
		b.WriteString(p.body())
		if !strings.HasSuffix(b.String(), "\n") {
			b.WriteString("\n")
		}
	}
	if w.err != nil {
		fmt.Fprintf(&b, "\nError: %s\n", sqlink.ErrorMessage(w.err))
		if h := sqlink.ErrorHint(w.err); h != "" {
			fmt.Fprintf(&b, "Try: %s\n", h)
		}
	}
	b.WriteString("\n")
	var help []string
	if len(fields) > 1 {
		help = append(help, "Tab next field")
	}
	for _, pk := range p.keys {
		if pk.key != "ctrl+c" {
			help = append(help, pk.key+" "+pk.help)
		}
	}
	switch {
	case p.last:
		help = append(help, "Enter close")
	case w.running && p.noBack:
		help = append(help, "(working...) Ctrl-C stops")
	case w.running:
		help = append(help, "(working...)")
	case p.finish:
		help = append(help, "Enter Finish")
	case !p.noBack:
		help = append(help, "Enter Next")
	}
	if !p.noBack && w.cur > 0 {
		help = append(help, "Esc Back")
	}
	if !p.noBack {
		help = append(help, "Ctrl-C cancel")
	}
	b.WriteString(strings.Join(help, " | "))
	b.WriteString("\n")
	return b.String()
}

// wrap breaks s at " > " separators so no line is longer than n.
func wrap(s string, n int) string {
	parts := strings.Split(s, " > ")
	var b strings.Builder
	line := 0
	for i, p := range parts {
		if i > 0 {
			if line+3+len(p) > n {
				b.WriteString(" >\n")
				line = 0
			} else {
				b.WriteString(" > ")
				line += 3
			}
		}
		b.WriteString(p)
		line += len(p)
	}
	return b.String()
}

// runWizard runs w on the terminal and reports whether it was finished
// (false: cancelled, nothing done).
func (m *Main) runWizard(w *wizard, send func(*tea.Program)) (bool, error) {
	in, _ := m.Stdin.(io.Reader)
	p := tea.NewProgram(w, tea.WithInput(in), tea.WithOutput(m.Stdout))
	if send != nil {
		send(p)
	}
	if _, err := p.Run(); err != nil {
		return false, sqlink.Errorf(sqlink.EINTERNAL, "run the command with flags instead (see --help), or --no-input", "the wizard stopped: %v", err)
	}
	if w.cancelled {
		fmt.Fprintln(m.Stdout, "Cancelled: nothing was changed.")
		return false, nil
	}
	return w.done, nil
}
