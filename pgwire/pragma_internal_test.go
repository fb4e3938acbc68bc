package pgwire

import (
	"strings"
	"testing"
)

func TestPragmaPlan(t *testing.T) {
	for _, tc := range []struct {
		in      string
		refused bool
	}{
		{"PRAGMA wal_checkpoint", true},
		{"pragma WAL_CHECKPOINT(TRUNCATE)", true},
		{"PRAGMA main.wal_checkpoint(FULL)", true},
		{`PRAGMA "wal_checkpoint"`, true},
		{"PRAGMA [main].'wal_checkpoint'", true},
		{"/* x */ PRAGMA -- y\n main . wal_checkpoint", true},
		{"PRAGMA journal_mode=DELETE", true},
		{"PRAGMA journal_mode = delete", true},
		{"PRAGMA main.journal_mode(DELETE)", true},
		{"PRAGMA `journal_mode`=OFF", true},
		{"PRAGMA synchronous=OFF", true},
		{"PRAGMA wal_autocheckpoint=1000", true},
		{"PRAGMA locking_mode=EXCLUSIVE", true},
		{"PRAGMA query_only=0", true},
		{"PRAGMA writable_schema=ON", true},
		{"PRAGMA schema_version=1", true},
		{"PRAGMA hard_heap_limit=1", true},
		{"PRAGMA a.b.c", true}, // does not parse
		{"PRAGMA 'unterminated", true},
		{"PRAGMA journal_mode", false},
		{"PRAGMA synchronous", false},
		{"PRAGMA main.query_only", false},
		{"PRAGMA table_info(t)", false},
		{"PRAGMA user_version = 7", false},
		{"PRAGMA foreign_keys=ON", false},
		{"PRAGMA integrity_check", false},
	} {
		p := buildPlan(tc.in)
		if got := p.kind == planRefuse; got != tc.refused {
			t.Errorf("buildPlan(%q): refused %v, want %v", tc.in, got, tc.refused)
			continue
		}
		if tc.refused && (p.err == nil || p.err.Hint == "" || !strings.Contains(p.err.Message, "PRAGMA")) {
			t.Errorf("buildPlan(%q): refusal without a clear message: %+v", tc.in, p.err)
		}
	}
}

func TestPragmaPlan_Writes(t *testing.T) {
	for _, tc := range []struct {
		in    string
		write bool
	}{
		{"PRAGMA optimize", true},
		{"PRAGMA main.incremental_vacuum(10)", true},
		{"PRAGMA user_version(7)", true},
		{"PRAGMA user_version = 7", true},
		{"PRAGMA user_version", false},
		{"PRAGMA table_info(t)", false},
		{"PRAGMA integrity_check", false},
	} {
		if p := buildPlan(tc.in); p.kind != planSQL || p.write != tc.write {
			t.Errorf("buildPlan(%q): kind %d write %v, want a write: %v", tc.in, p.kind, p.write, tc.write)
		}
	}
}

// FuzzPragmaName: any text after PRAGMA parses or is refused, without a
// panic, and a name found is lower case.
func FuzzPragmaName(f *testing.F) {
	for _, s := range []string{"PRAGMA wal_checkpoint", "PRAGMA [a].\"b\"(1)", "PRAGMA 'x''y'=1", "PRAGMA /*", "PRAGMA -- x", "PRAGMA `", "PRAGMA a.", "PRAGMA ["} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, _, ok := pragmaName(s)
		if ok && name != strings.ToLower(name) {
			t.Fatalf("pragmaName(%q) = %q, not lower case", s, name)
		}
		_ = buildPlan(s)
	})
}
