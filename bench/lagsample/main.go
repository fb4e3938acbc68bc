// Command lagsample samples replication lag every -interval (default 100 ms)
// from either a PostgreSQL primary/standby pair or a sqlink link, writes one
// CSV row per sample and, on exit, prints nearest-rank p50 / p99 / max of the
// lag columns. It is the sampler of bench/link_vs_postgres.sh.
//
// It stops after -dur, or at SIGINT / SIGTERM (the harness sends SIGTERM
// when pgbench ends).
//
// PostgreSQL mode (-pg-primary, optional -pg-standby): each sample reads the
// standby first (pg_last_wal_replay_lsn(), and clock_timestamp() -
// pg_last_xact_replay_timestamp()), then the primary (pg_current_wal_lsn(),
// and replay_lag / write_lag / flush_lag / replay_lsn of the walsender from
// pg_stat_replication, what the PostgreSQL anchors sample).
//
// sqlink mode (-sq-primary, -sq-secondary, -link; or -sq-primary and -db
// alone to read only the log size of a database without a link): each sample reads the
// secondary's link status first (local.last_redone_lsn and friends), then
// the primary's (local.last_commit_lsn, partner.secondary_lag_seconds,
// local.log_send_queue_bytes, ...). Every -metrics-every samples (default
// every sample) it also reads the primary's /metrics for the replication log
// size and LSN of -db, so the log bytes per transaction can be summed over
// the intervals without a prune. The interval must be short: at ~25 MB/s of
// log, a 16 MiB segment pruned within a 1 s interval still leaves a positive
// delta and hides the growth (the first version read /metrics every second
// and under-counted by up to 45%).
//
// For both systems it computes the same LSN-based lag, "interp_lag_ms": the
// secondary's replayed (redone) position R, read at time t, is looked up in
// the history of the primary's positions (t_i, L_i) sampled just after
// reading the secondary; if R is at or past the newest primary position the
// lag is 0, otherwise the time the primary reached R is interpolated
// linearly between the two samples around it and the lag is t minus that
// time. For PostgreSQL a position is a WAL byte position, for sqlink a
// transaction LSN. Its resolution is bounded by the commit rate (one
// transaction is ~1 ms at 1,000 tps), not by the sampling interval.
package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sqlink/sqlink/adminapi"
)

type point struct {
	t   time.Time
	pos float64
}

// history keeps the primary's recent positions for interpolation.
type history struct{ pts []point }

func (h *history) add(t time.Time, pos float64) {
	h.pts = append(h.pts, point{t, pos})
	if len(h.pts) > 600 { // one minute at 100 ms
		h.pts = h.pts[len(h.pts)-600:]
	}
}

// lagMs returns the interpolated time between the primary reaching pos and
// now, or -1 when pos is older than the history kept (lag at least 60 s).
func (h *history) lagMs(now time.Time, pos float64) float64 {
	n := len(h.pts)
	if n == 0 {
		return -1
	}
	if pos >= h.pts[n-1].pos {
		return 0
	}
	for i := n - 1; i > 0; i-- {
		a, b := h.pts[i-1], h.pts[i]
		if pos >= a.pos && pos < b.pos {
			f := (pos - a.pos) / (b.pos - a.pos)
			at := a.t.Add(time.Duration(f * float64(b.t.Sub(a.t))))
			return ms(now.Sub(at))
		}
	}
	return -1
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func main() {
	var (
		interval     = flag.Duration("interval", 100*time.Millisecond, "sampling interval")
		dur          = flag.Duration("dur", 10*time.Minute, "stop after this long at the latest")
		out          = flag.String("out", "", "CSV file to write (default stdout)")
		pgPrimary    = flag.String("pg-primary", "", "PostgreSQL primary connection string")
		pgStandby    = flag.String("pg-standby", "", "PostgreSQL standby connection string (optional)")
		appName      = flag.String("app", "", "application_name of the standby in pg_stat_replication (default any)")
		sqPrimary    = flag.String("sq-primary", "", "sqlink primary admin URL")
		sqSecondary  = flag.String("sq-secondary", "", "sqlink secondary admin URL")
		token        = flag.String("token", os.Getenv("SQLINK_TOKEN"), "sqlink admin token (both instances)")
		link         = flag.String("link", "", "sqlink link name")
		db           = flag.String("db", "", "sqlink database whose log size to read from /metrics (default: the link's)")
		metricsEvery = flag.Int("metrics-every", 1, "read /metrics every N samples (0: never); keep the interval short enough that a 16 MiB log prune makes the log shrink within it")
		summary      = flag.String("summary", "", "prefix of the summary lines printed on exit")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *dur)
	defer cancel()

	w := os.Stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fatal(err)
		}
		defer f.Close()
		w = f
	}
	cw := csv.NewWriter(w)
	defer cw.Flush()

	var s sampler
	var err error
	switch {
	case *pgPrimary != "":
		s, err = newPG(ctx, *pgPrimary, *pgStandby, *appName)
	case *sqPrimary != "" && (*link == "" || *sqSecondary != ""):
		if *link == "" && *db == "" {
			fatal(fmt.Errorf("without -link, give -db"))
		}
		s = newSQ(*sqPrimary, *sqSecondary, *token, *link, *db, *metricsEvery)
	default:
		fatal(fmt.Errorf("give -pg-primary, or -sq-primary with -sq-secondary and -link, or -sq-primary with -db (log size only)"))
	}
	if err != nil {
		fatal(err)
	}
	cols := s.header()
	cw.Write(append([]string{"epoch_ms"}, cols...))
	vals := map[string][]float64{}
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	errs := 0
	for {
		sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
		row, err := s.sample(sctx)
		scancel()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			errs++
			if errs <= 5 {
				fmt.Fprintf(os.Stderr, "lagsample: %v\n", err)
			}
		} else {
			rec := []string{strconv.FormatInt(time.Now().UnixMilli(), 10)}
			for i, v := range row {
				if math.IsNaN(v) {
					rec = append(rec, "")
					continue
				}
				rec = append(rec, strconv.FormatFloat(v, 'f', 3, 64))
				vals[cols[i]] = append(vals[cols[i]], v)
			}
			cw.Write(rec)
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
			continue
		}
		break
	}
	cw.Flush()
	for _, c := range s.lagColumns() {
		fmt.Printf("%s%s n=%d p50=%s p99=%s max=%s\n", *summary, c, len(vals[c]),
			pct(vals[c], 0.50), pct(vals[c], 0.99), pct(vals[c], 1))
	}
	for _, line := range s.extra() {
		fmt.Printf("%s%s\n", *summary, line)
	}
	if errs > 0 {
		fmt.Printf("%ssample_errors=%d\n", *summary, errs)
	}
}

// pct is the nearest-rank percentile, as the anchors' 04_summarize.sh.
func pct(v []float64, p float64) string {
	var x []float64
	for _, f := range v {
		if f >= 0 {
			x = append(x, f)
		}
	}
	if len(x) == 0 {
		return "-"
	}
	sort.Float64s(x)
	i := int(math.Ceil(float64(len(x))*p)) - 1
	if i < 0 {
		i = 0
	}
	return strconv.FormatFloat(x[i], 'f', 2, 64)
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "lagsample: %v\n", err)
	os.Exit(1)
}

type sampler interface {
	header() []string
	lagColumns() []string
	sample(ctx context.Context) ([]float64, error)
	extra() []string
}

// --- PostgreSQL ---------------------------------------------------------------

type pgSampler struct {
	primary, standby *pgx.Conn
	app              string
	hist             history
}

func newPG(ctx context.Context, primary, standby, app string) (*pgSampler, error) {
	p, err := pgx.Connect(ctx, primary)
	if err != nil {
		return nil, fmt.Errorf("primary: %w", err)
	}
	s := &pgSampler{primary: p, app: app}
	if standby != "" {
		if s.standby, err = pgx.Connect(ctx, standby); err != nil {
			return nil, fmt.Errorf("standby: %w", err)
		}
	}
	return s, nil
}

func (s *pgSampler) header() []string {
	return []string{"primary_lsn", "standby_replay_lsn", "bytes_behind", "replay_lag_ms", "write_lag_ms",
		"flush_lag_ms", "xact_replay_age_ms", "interp_lag_ms", "sample_ms"}
}

func (s *pgSampler) lagColumns() []string {
	return []string{"replay_lag_ms", "interp_lag_ms", "xact_replay_age_ms", "bytes_behind"}
}

func (s *pgSampler) extra() []string { return nil }

func (s *pgSampler) sample(ctx context.Context) ([]float64, error) {
	nan := math.NaN()
	t0 := time.Now()
	replay, age := nan, nan
	var ts time.Time
	if s.standby != nil {
		var r, a *float64
		err := s.standby.QueryRow(ctx, `select (pg_last_wal_replay_lsn() - '0/0')::float8,
			extract(epoch from clock_timestamp() - pg_last_xact_replay_timestamp())::float8 * 1000`).Scan(&r, &a)
		if err != nil {
			return nil, fmt.Errorf("standby: %w", err)
		}
		ts = time.Now()
		if r != nil {
			replay = *r
		}
		if a != nil {
			age = *a
		}
	}
	var cur float64
	var behind, rl, wl, fl *float64
	q := `select (pg_current_wal_lsn() - '0/0')::float8,
		(select (pg_current_wal_lsn() - replay_lsn)::float8 from pg_stat_replication where $1 = '' or application_name = $1 limit 1),
		(select extract(epoch from replay_lag)::float8 * 1000 from pg_stat_replication where $1 = '' or application_name = $1 limit 1),
		(select extract(epoch from write_lag)::float8 * 1000 from pg_stat_replication where $1 = '' or application_name = $1 limit 1),
		(select extract(epoch from flush_lag)::float8 * 1000 from pg_stat_replication where $1 = '' or application_name = $1 limit 1)`
	if err := s.primary.QueryRow(ctx, q, s.app).Scan(&cur, &behind, &rl, &wl, &fl); err != nil {
		return nil, fmt.Errorf("primary: %w", err)
	}
	now := time.Now()
	s.hist.add(now, cur)
	interp := nan
	if s.standby != nil && !math.IsNaN(replay) {
		interp = s.hist.lagMs(ts, replay)
	}
	v := func(p *float64) float64 {
		if p == nil {
			return nan
		}
		return *p
	}
	return []float64{cur, replay, v(behind), v(rl), v(wl), v(fl), age, interp, ms(now.Sub(t0))}, nil
}

// --- sqlink -------------------------------------------------------------------

type sqSampler struct {
	primary, secondary *adminapi.Client
	metricsURL, token  string
	hc                 *http.Client
	link, db           string
	every, n           int
	hist               history

	// log bytes per transaction over metric intervals without a prune
	lastLog, lastLSN   float64
	sumBytes, sumTx    float64
	pruned             int
	firstSent, lastSnt float64
	firstTx, lastTx    float64
}

func newSQ(primary, secondary, token, link, db string, every int) *sqSampler {
	hc := &http.Client{Timeout: 5 * time.Second}
	return &sqSampler{
		primary:    adminapi.NewClient(primary, token, hc),
		secondary:  adminapi.NewClient(secondary, token, hc),
		metricsURL: strings.TrimRight(primary, "/") + "/metrics",
		token:      token, hc: hc, link: link, db: db, every: every,
		lastLog: -1, firstSent: -1,
	}
}

func (s *sqSampler) header() []string {
	return []string{"primary_commit_lsn", "secondary_hardened_lsn", "secondary_redone_lsn", "tx_behind",
		"secondary_lag_ms", "secondary_local_lag_ms", "interp_lag_ms", "log_send_queue_bytes", "redo_queue_bytes",
		"log_send_rate", "primary_log_bytes", "primary_last_sent_lsn", "replay_lag_ms", "harden_lag_ms", "sample_ms"}
}

func (s *sqSampler) lagColumns() []string {
	return []string{"replay_lag_ms", "harden_lag_ms", "secondary_lag_ms", "secondary_local_lag_ms", "interp_lag_ms", "tx_behind", "log_send_queue_bytes"}
}

func (s *sqSampler) extra() []string {
	var out []string
	if s.sumTx > 0 {
		out = append(out, fmt.Sprintf("log_bytes_per_tx=%.0f (replication log growth over %.0f tx, %d intervals with a prune skipped)",
			s.sumBytes/s.sumTx, s.sumTx, s.pruned))
	}
	if s.firstSent >= 0 && s.lastTx > s.firstTx {
		out = append(out, fmt.Sprintf("sent_bytes_per_tx=%.0f (link bytes counter)", (s.lastSnt-s.firstSent)/(s.lastTx-s.firstTx)))
	}
	return out
}

func (s *sqSampler) sample(ctx context.Context) ([]float64, error) {
	t0 := time.Now()
	var sec, pri adminapi.LinkStatus
	if s.link == "" { // no link: the log size only
		if s.every > 0 && s.n%s.every == 0 {
			s.metrics(ctx, pri)
		}
		s.n++
		nan := math.NaN()
		return []float64{nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, s.lastLog, nan, nan, nan, ms(time.Since(t0))}, nil
	}
	path := "/v1/links/" + s.link
	if err := s.secondary.Do(ctx, "GET", path, nil, &sec); err != nil {
		return nil, fmt.Errorf("secondary: %w", err)
	}
	ts := time.Now()
	if err := s.primary.Do(ctx, "GET", path, nil, &pri); err != nil {
		return nil, fmt.Errorf("primary: %w", err)
	}
	now := time.Now()
	commit := float64(pri.Local.LastCommitLSN)
	s.hist.add(now, commit)
	redone := float64(sec.Local.LastRedoneLSN)
	interp := s.hist.lagMs(ts, redone)
	if s.every > 0 && s.n%s.every == 0 {
		s.metrics(ctx, pri)
	}
	s.n++
	return []float64{commit, float64(sec.Local.LastHardenedLSN), redone, commit - redone,
		pri.Partner.SecondaryLag * 1000, sec.Local.SecondaryLag * 1000, interp,
		float64(pri.Local.LogSendQueueBytes), float64(sec.Local.RedoQueueBytes), pri.Local.LogSendRate,
		float64(pri.Local.LogBytes), float64(pri.Local.LastSentLSN),
		pri.Local.ReplayLag * 1000, pri.Local.HardenLag * 1000, ms(now.Sub(t0))}, nil
}

// metrics reads the primary's replication log size and LSN for the
// database, and a link bytes-sent counter if the server exports one.
func (s *sqSampler) metrics(ctx context.Context, pri adminapi.LinkStatus) {
	db := s.db
	if db == "" {
		db = pri.Database
	}
	req, err := http.NewRequestWithContext(ctx, "GET", s.metricsURL, nil)
	if err != nil {
		return
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := s.hc.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	logBytes, lsn, sent := -1.0, -1.0, -1.0
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 4<<20))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := metricLine(line)
		if !ok {
			continue
		}
		switch {
		case name == `sqlink_database_log_bytes{database="`+db+`"}`:
			logBytes = val
		case name == `sqlink_database_lsn{database="`+db+`"}`:
			lsn = val
		case strings.HasPrefix(name, "sqlink_link_") && strings.Contains(name, "sent_bytes") &&
			strings.Contains(name, `"`+s.link+`"`):
			sent = val
		}
	}
	if logBytes >= 0 && lsn >= 0 {
		if s.lastLog >= 0 && lsn > s.lastLSN {
			if logBytes >= s.lastLog {
				s.sumBytes += logBytes - s.lastLog
				s.sumTx += lsn - s.lastLSN
			} else {
				s.pruned++
			}
		}
		s.lastLog, s.lastLSN = logBytes, lsn
	}
	if sent >= 0 && lsn >= 0 {
		if s.firstSent < 0 {
			s.firstSent, s.firstTx = sent, lsn
		}
		s.lastSnt, s.lastTx = sent, lsn
	}
}

func metricLine(line string) (string, float64, bool) {
	i := strings.LastIndexByte(line, ' ')
	if i < 0 {
		return "", 0, false
	}
	v, err := strconv.ParseFloat(line[i+1:], 64)
	if err != nil {
		return "", 0, false
	}
	return line[:i], v, true
}
