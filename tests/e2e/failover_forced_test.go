package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/internal/testutil"
)

// setRoleOut is what `sqlink link set-role --json` prints.
type setRoleOut struct {
	adminapi.SetRoleResult
	Primary  string               `json:"primary"`
	Instance string               `json:"instance"`
	Loser    string               `json:"loser"`
	Partner  *adminapi.LinkStatus `json:"partner"`
}

// historyKeys returns pgbench_history rows as "tid|bid|aid|delta" strings.
func historyKeys(t testing.TB, in *Instance) []string {
	t.Helper()
	out := in.MustPsql("tpcb", `SELECT tid || '|' || bid || '|' || aid || '|' || delta FROM pgbench_history;`)
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// sqliteQuery runs a query on a SQLite file with the sqlite3 CLI.
func sqliteQuery(t testing.TB, file, q string) []string {
	t.Helper()
	requireTool(t, "sqlite3")
	out, err := exec.Command("sqlite3", "-readonly", file, q).CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3 %s %q: %v\n%s", file, q, err, out)
	}
	s := strings.TrimSpace(string(out))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// notIn returns the elements of a that b lacks, as multisets.
func notIn(a, b []string) []string {
	count := map[string]int{}
	for _, x := range b {
		count[x]++
	}
	var out []string
	for _, x := range a {
		if count[x] > 0 {
			count[x]--
			continue
		}
		out = append(out, x)
	}
	return out
}

// TestFailover_ForcedThenSplitBrain kills the primary during pgbench,
// forces the failover on the secondary and checks the reported loss against
// what the old primary had committed. The old primary comes back: both
// sides report SPLIT_BRAIN and it refuses writes. set-role then designates
// the new primary (first run) or the old one (second run): the loser's
// diverged transactions are in the file it saved, and its copy then equals
// the winner's and follows it.
func TestFailover_ForcedThenSplitBrain(t *testing.T) {
	requireTool(t, "pgbench")
	requireTool(t, "sqlite3")
	for _, winner := range []string{"new", "old"} {
		t.Run("primary="+winner, func(t *testing.T) { testForced(t, winner) })
	}
}

func testForced(t *testing.T, winner string) {
	alpha, beta := mustSetupTPCBLink(t, "fo", "--two-way")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	prefix := filepath.Join(t.TempDir(), "tx")
	benchDone := make(chan string, 1)
	go func() {
		out, _ := alpha.Pgbench(ctx, "tpcb", "-n", "-M", "prepared", "-c", "4", "-j", "4", "-T", "120",
			"-l", "--log-prefix", prefix, "-f", tpcbScript)
		benchDone <- out
	}()
	n := waitRows(t, beta, "tpcb", historyQ, 300, 0)
	if winner == "new" {
		// Make sure the old primary has transactions the secondary never
		// received, so that it has diverged rows to save: freeze the
		// secondary while the primary commits more. The secondary's
		// estimate cannot count what never reached it.
		beta.Freeze()
		t.Cleanup(beta.Thaw)
		// n was counted before the freeze took effect, and the kernel's
		// socket buffers still take several megabytes of records (a few
		// hundred transactions) for the frozen secondary, which it reads
		// when thawed: ask alpha for well more than that.
		waitRows(t, alpha, "tpcb", historyQ, n+1000, 0)
		alpha.Kill()
		beta.Thaw()
	} else {
		alpha.Kill()
	}
	<-benchDone
	acked := countLoggedTransactions(t, prefix)

	// Without the acknowledgement the CLI refuses, and says how to accept.
	if r := beta.CLI("link", "failover", "fo", "--force"); r.Code != 2 || !strings.Contains(r.Stderr, "--allow-data-loss") {
		t.Fatalf("forced failover without --allow-data-loss: exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	before := mustLinkStatus(t, beta, "fo")
	t.Logf("estimated loss on beta before forcing: %+v", before.Local.EstimatedDataLoss)
	out := mustFailover(t, beta, alpha, "fo", "--force", "--allow-data-loss")
	t.Logf("forced failover: new primary %s, epoch %d, estimated loss %+v, recorded loss %+v, %.3fs", out.NewPrimary, out.Epoch,
		out.EstimatedLoss, out.Lost, out.Duration)
	if out.NewPrimary != "beta" || out.Epoch <= before.Epoch {
		t.Fatalf("forced failover: new primary %q at epoch %d (was %d)", out.NewPrimary, out.Epoch, before.Epoch)
	}
	if out.Lost.Transactions != out.EstimatedLoss.Transactions {
		t.Errorf("recorded loss %d transactions, estimated %d just before", out.Lost.Transactions, out.EstimatedLoss.Transactions)
	}
	hb, err := historyRows(t, beta, "tpcb")
	if err != nil {
		t.Fatal(err)
	}
	// It takes writes.
	mustWrite(t, beta, "after forced 1")
	var mine []string
	if winner == "old" {
		// More writes that will diverge from the old primary's history.
		for i := 2; i <= 5; i++ {
			mustWrite(t, beta, fmt.Sprintf("after forced %d", i))
		}
	}
	mine = strings.Split(beta.MustPsql("tpcb", `SELECT body FROM notes WHERE body LIKE 'after forced %' ORDER BY id;`), "\n")

	// The old primary returns: it still has everything it committed, which
	// is what the forced failover lost.
	alpha.Start()
	for _, in := range []*Instance{alpha, beta} {
		waitLink(t, in, "fo", 0, func(st adminapi.LinkStatus) error {
			if st.State != "SPLIT_BRAIN" || st.SplitBrain == nil {
				return fmt.Errorf("state %s, split brain %+v", st.State, st.SplitBrain)
			}
			return nil
		})
	}
	sbA, sbB := mustLinkStatus(t, alpha, "fo").SplitBrain, mustLinkStatus(t, beta, "fo").SplitBrain
	t.Logf("split brain: alpha %+v, beta %+v", *sbA, *sbB)
	ha, err := historyRows(t, alpha, "tpcb")
	if err != nil {
		t.Fatal(err)
	}
	lost := ha - hb
	t.Logf("pgbench acknowledged %d; alpha has %d history rows, beta %d at the switch: %d lost; estimated %d", acked, ha, hb, lost, out.EstimatedLoss.Transactions)
	if ha < acked {
		t.Fatalf("the old primary lost acknowledged transactions: %d rows, %d acknowledged", ha, acked)
	}
	// Async: what the primary committed in the instant before it died may
	// not have reached the secondary's estimate; more than one transaction
	// per client would be a wrong estimate. With the secondary frozen, the
	// estimate only covers what it heard of before.
	if est := out.EstimatedLoss.Transactions; est > lost || winner == "old" && lost-est > 4 {
		t.Errorf("estimated loss %d transactions, actually lost %d", est, lost)
	}
	if winner == "new" && lost == 0 {
		t.Fatalf("alpha committed no transaction beta lacks while beta was frozen: nothing diverged to check")
	}
	if got := int64(sbA.DivergedLocal); got != lost {
		t.Errorf("alpha reports %d diverged transactions, it has %d beyond the fork", got, lost)
	}

	// The old primary (lower epoch) refuses writes.
	c, err := pgx.Connect(ctx, alpha.ConnString("tpcb"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Exec(ctx, `INSERT INTO notes (body) VALUES ('split')`)
	c.Close(ctx)
	if code := pgErrCode(err); code != "25006" {
		t.Fatalf("write on the old primary in split brain: %v, want SQLSTATE 25006", err)
	}

	var win, lose *Instance
	var res setRoleOut
	if winner == "new" {
		win, lose = beta, alpha
	} else {
		win, lose = alpha, beta
	}
	r := win.CLI(append([]string{"link", "set-role", "fo", "--primary", win.Name, "--json"}, partnerFlags(lose)...)...)
	if r.Code != 0 {
		t.Fatalf("link set-role --primary %s: exit %d\nstdout: %s\nstderr: %s", win.Name, r.Code, r.Stdout, r.Stderr)
	}
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		t.Fatalf("set-role --json: %v\n%s", err, r.Stdout)
	}
	t.Logf("set-role: fork LSN %d, %d diverged on %s, file %s, list %s, method %s", res.ForkLSN, res.Diverged, res.Loser, res.DivergedFile, res.DivergedList, res.Method)
	if res.Method != "rewind" && res.Method != "reseed" {
		t.Errorf("set-role method %q, want rewind or reseed", res.Method)
	}
	if res.DivergedFile == "" {
		t.Fatalf("set-role reported no diverged file: %+v", res)
	}
	if res.DivergedList != "" {
		if b, err := os.ReadFile(res.DivergedList); err != nil || len(b) == 0 {
			t.Errorf("diverged listing %s: %v (%d bytes)", res.DivergedList, err, len(b))
		}
	}

	p, s := waitSettled(t, "fo", alpha, beta, 0)
	if p != win {
		t.Fatalf("after set-role --primary %s the primary is %s", win.Name, p.Name)
	}
	waitCaughtUp(t, p, s, "fo", 0)
	t.Log(mustVerify(t, p, s, "fo"))
	checkTPCBConsistent(t, s, "tpcb")

	if winner == "new" {
		// alpha's transactions after the fork are the rows of the saved
		// file that beta lacks; alpha now has beta's history.
		if res.Diverged != lost {
			t.Errorf("set-role saved %d diverged transactions, %d were lost", res.Diverged, lost)
		}
		saved := sqliteQuery(t, res.DivergedFile, `SELECT tid || '|' || bid || '|' || aid || '|' || delta FROM pgbench_history;`)
		if extra := notIn(saved, historyKeys(t, beta)); int64(len(extra)) != lost {
			t.Fatalf("the saved file has %d history rows beta lacks, want the %d lost", len(extra), lost)
		}
		if got, _ := historyRows(t, alpha, "tpcb"); got != hb {
			t.Fatalf("alpha has %d history rows after the rewind, beta had %d at the switch", got, hb)
		}
	} else {
		// beta's writes after the forced failover are in its file and gone
		// from both copies.
		if res.Diverged != int64(len(mine)) {
			t.Errorf("set-role saved %d diverged transactions, beta wrote %d", res.Diverged, len(mine))
		}
		saved := sqliteQuery(t, res.DivergedFile, `SELECT body FROM notes WHERE body LIKE 'after forced %' ORDER BY id;`)
		if strings.Join(saved, ",") != strings.Join(mine, ",") {
			t.Fatalf("the saved file has notes %q, beta wrote %q", saved, mine)
		}
		for _, in := range []*Instance{alpha, beta} {
			if got := in.MustPsql("tpcb", `SELECT count(*) FROM notes WHERE body LIKE 'after forced %';`); got != "0" {
				t.Fatalf("%s still has %s of beta's diverged notes", in.Name, got)
			}
		}
		if got, _ := historyRows(t, beta, "tpcb"); got != ha {
			t.Fatalf("beta has %d history rows, alpha %d", got, ha)
		}
	}

	// Replication runs: a new row reaches the follower.
	mustWrite(t, p, "replicated after set-role")
	testutil.RetryUntil(t, 0, func() error {
		got, err := queryInt(s, "tpcb", `SELECT count(*) FROM notes WHERE body = 'replicated after set-role';`)
		if err != nil {
			return err
		}
		if got != 1 {
			return fmt.Errorf("%s has %d of the new row", s.Name, got)
		}
		return nil
	})
}
