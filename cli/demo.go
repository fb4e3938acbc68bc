package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/linkcreate"
	"github.com/sqlink/sqlink/server"
)

// demoData is the sample database the demo loads.
const demoData = `
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL);
CREATE TABLE orders (
  id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  amount REAL NOT NULL,
  placed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX orders_customer ON orders (customer_id);
INSERT INTO customers (id, name, city) VALUES
  (1, 'Ada', 'London'), (2, 'Grace', 'Arlington'), (3, 'Edsger', 'Austin'), (4, 'Barbara', 'Boston');
INSERT INTO orders (customer_id, amount)
  WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 100)
  SELECT 1 + x % 4, round(10 + (x * 37 % 500) / 3.0, 2) FROM n;
CREATE TABLE events (id INTEGER PRIMARY KEY, at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, note TEXT NOT NULL);
`

func (m *Main) demoCommand() *cobra.Command {
	var (
		dir      string
		logLevel string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run two throw-away instances with a sample database replicated from one to the other",
		Long: `demo starts two instances in a temporary directory on free loopback ports,
creates the database "demo" with sample data on the first, takes a full
backup, links it to the second exactly as "sqlink link create" does, and
inserts a row into demo.events every 200 ms while printing both copies' LSNs,
the lag and the row counts. It prints psql command lines for both (the
secondary is read-only) and the admin URLs, and runs until Ctrl-C.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if dir == "" {
				d, err := os.MkdirTemp("", "sqlink-demo-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(d)
				dir = d
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return errUsage(cmd, "invalid log level %q", logLevel)
			}
			log := slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: level}))
			return m.runDemo(ctx, dir, log)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory for the two instances' data (default: a temporary one, removed on exit)")
	cmd.Flags().StringVar(&logLevel, "log-level", "warn", "server log level")
	return cmd
}

// demoInstance is one of the demo's in-process instances.
type demoInstance struct {
	s      *server.Server
	token  string
	client *adminapi.Client
	url    string
	fp     string // the admin listener's certificate fingerprint
}

// startDemoInstance initialises and starts an instance in dir on free
// loopback ports. The endpoint port is picked up front because the partner
// must be told where to dial.
func startDemoInstance(ctx context.Context, dir, name, password string, log *slog.Logger) (*demoInstance, server.InitResult, error) {
	res, err := server.Init(ctx, server.InitOptions{DataDir: dir, Name: name, SQLPassword: password})
	if err != nil {
		return nil, res, err
	}
	endpoint, err := freeLoopbackAddr()
	if err != nil {
		return nil, res, err
	}
	s, _, err := server.Open(ctx, server.Config{
		DataDir:      dir,
		ClientAddr:   "127.0.0.1:0",
		AdminAddr:    "127.0.0.1:0",
		EndpointAddr: endpoint,
		Logger:       log.With("instance", name),
	})
	if err != nil {
		return nil, res, err
	}
	if err := s.Start(ctx); err != nil {
		s.Close(context.Background())
		return nil, res, err
	}
	url, fp := s.AdminURL(), s.TLSCertificate().Fingerprint
	hc, err := adminapi.NewHTTPClient(url, adminapi.TLSOptions{Fingerprint: fp})
	if err != nil {
		s.Close(context.Background())
		return nil, res, err
	}
	hc.Timeout = 30 * time.Second
	return &demoInstance{s: s, token: res.Token, url: url, fp: fp, client: adminapi.NewClient(url, res.Token, hc)}, res, nil
}

func (d *demoInstance) close() {
	ctx, cancel := context.WithTimeout(context.Background(), server.DefaultShutdownTimeout)
	defer cancel()
	d.s.Close(ctx)
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func (m *Main) runDemo(ctx context.Context, dir string, log *slog.Logger) error {
	p, pres, err := startDemoInstance(ctx, filepath.Join(dir, "primary"), "demo-primary", "", log)
	if err != nil {
		return err
	}
	password := pres.Password
	sec, _, err := startDemoInstance(ctx, filepath.Join(dir, "secondary"), "demo-secondary", password, log)
	if err != nil {
		p.close()
		return err
	}
	// The primary stops first: it is the side that dials, so it does not
	// try to reconnect to a secondary that is already gone.
	defer func() {
		p.close()
		sec.close()
	}()

	if err := p.s.CreateDatabase(ctx, "demo"); err != nil {
		return err
	}
	if err := p.s.Exec(ctx, "demo", demoData); err != nil {
		return fmt.Errorf("load sample data: %w", err)
	}
	// A link needs a full backup that starts the database's chain.
	if _, err := p.s.Backup(ctx, "demo", false, io.Discard); err != nil {
		return fmt.Errorf("full backup of demo: %w", err)
	}

	fmt.Fprintf(m.Stdout, "sqlink demo: instances %q and %q in %s\n\n", p.s.Name(), sec.s.Name(), dir)
	fmt.Fprintf(m.Stdout, "Linking database demo from %s to %s:\n", p.s.Name(), sec.s.Name())
	lc := &linkcreate.Creator{Primary: p.client, Secondary: sec.client, PrimaryURL: p.url, SecondaryURL: sec.url,
		Progress: func(s linkcreate.Step) {
			if s.Status != linkcreate.StepRunning {
				m.printStep(s)
			}
		}}
	if _, err := lc.Create(ctx, linkcreate.Options{Name: "demo", Databases: []string{"demo"}, Mode: sqlink.ModeAsync}); err != nil {
		return err
	}
	if err := waitDemoSeeded(ctx, sec.client, m); err != nil {
		return err
	}

	line := func(s *server.Server, note string) {
		host, port, _ := net.SplitHostPort(s.ClientAddr())
		fmt.Fprintf(m.Stdout, "  PGPASSWORD=%s psql \"host=%s port=%s user=admin dbname=demo sslmode=require\"%s\n", password, host, port, note)
	}
	fmt.Fprintf(m.Stdout, "\nQuery the primary (read/write) with psql:\n")
	line(p.s, "")
	fmt.Fprintf(m.Stdout, "  (try: SELECT c.name, count(*), sum(o.amount) FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY 1;)\n")
	fmt.Fprintf(m.Stdout, "Query the secondary (read-only: writes fail with SQLSTATE 25006):\n")
	line(sec.s, "")
	fmt.Fprintf(m.Stdout, "\nAdmin API of the primary:   %s  (token %s)\n", p.url, p.token)
	fmt.Fprintf(m.Stdout, "Admin API of the secondary: %s  (token %s)\n", sec.url, sec.token)
	self := selfCommand(os.Args[0])
	fmt.Fprintf(m.Stdout, "  (TLS certificates, self-signed: primary %s, secondary %s)\n", p.fp, sec.fp)
	sides := fmt.Sprintf("--primary %s --primary-token %s --primary-fingerprint %s --secondary %s --secondary-token %s --secondary-fingerprint %s", p.url, p.token, p.fp, sec.url, sec.token, sec.fp)
	fmt.Fprintf(m.Stdout, "  %s link status demo %s\n", self, sides)
	fmt.Fprintf(m.Stdout, "  %s link verify demo %s\n\n", self, sides)
	fmt.Fprintf(m.Stdout, "A row goes into demo.events every 200 ms; the secondary follows:\n")
	fmt.Fprintf(m.Stdout, "Press Ctrl-C to stop.\n")

	err = m.demoWorkload(ctx, p, sec, password)
	fmt.Fprintf(m.Stdout, "\nstopping (%s)\n", time.Now().Format(time.TimeOnly))
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		return nil
	}
	return err
}

// selfCommand returns how to run this program again from a shell, given
// os.Args[0]: "go run ./cmd/sqlink" under go run (a binary in go's build
// cache, gone when it exits), the name as typed when it came from $PATH,
// else the binary's absolute path (right from any directory).
func selfCommand(argv0 string) string {
	slashed := filepath.ToSlash(argv0)
	if strings.Contains(slashed, "/go-build") && strings.Contains(slashed, "/exe/") {
		return "go run ./cmd/sqlink"
	}
	if !strings.ContainsRune(argv0, filepath.Separator) {
		return argv0
	}
	if abs, err := filepath.Abs(argv0); err == nil {
		return abs
	}
	return argv0
}

// waitDemoSeeded waits until the secondary's copy is seeded and readable,
// failing with the link's last error if it does not get there.
func waitDemoSeeded(ctx context.Context, c *adminapi.Client, m *Main) error {
	deadline := time.Now().Add(time.Minute)
	var st adminapi.LinkStatus
	for {
		got, err := c.GetLink(ctx, "demo")
		if err == nil {
			st = got
		}
		if err == nil && st.Local.DatabaseState == sqlink.DatabaseOnline && st.Local.Connected {
			fmt.Fprintf(m.Stdout, "Seeded: the secondary is ONLINE, read-only, at LSN %d (%s).\n", st.Local.LastRedoneLSN, st.State)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			why := "no error reported"
			if err != nil {
				why = sqlink.ErrorMessage(err)
			} else if st.Local.LastError != nil {
				why = st.Local.LastError.Message
			}
			return sqlink.Errorf(sqlink.ETIMEOUT, "run the demo with --log-level debug to see why",
				"the link was created but the secondary was not seeded within a minute (state %s, seeding %s): %s", st.State, seedingText(st.Local.Seeding), why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// demoWorkload inserts a row every 200 ms on the primary and prints both
// copies' positions every two seconds, until ctx ends.
func (m *Main) demoWorkload(ctx context.Context, p, sec *demoInstance, password string) error {
	connect := func(s *server.Server) (*pgx.Conn, error) {
		host, port, _ := net.SplitHostPort(s.ClientAddr())
		return pgx.Connect(ctx, fmt.Sprintf("host=%s port=%s user=admin password=%s dbname=demo sslmode=disable", host, port, password))
	}
	pc, err := connect(p.s)
	if err != nil {
		return fmt.Errorf("connect to the primary: %w", err)
	}
	defer pc.Close(context.WithoutCancel(ctx))
	sc, err := connect(sec.s)
	if err != nil {
		return fmt.Errorf("connect to the secondary: %w", err)
	}
	defer sc.Close(context.WithoutCancel(ctx))

	insert := time.NewTicker(200 * time.Millisecond)
	defer insert.Stop()
	report := time.NewTicker(2 * time.Second)
	defer report.Stop()
	n := 0
	count := func(c *pgx.Conn) string {
		var v int64
		if err := c.QueryRow(ctx, "SELECT count(*) FROM events").Scan(&v); err != nil {
			return "?"
		}
		return fmt.Sprint(v)
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-insert.C:
			n++
			if _, err := pc.Exec(ctx, "INSERT INTO events (note) VALUES ($1)", fmt.Sprintf("tick %d", n)); err != nil && ctx.Err() == nil {
				fmt.Fprintf(m.Stderr, "insert on the primary: %v\n", err)
			}
		case <-report.C:
			ps, perr := p.client.GetLink(ctx, "demo")
			ss, serr := sec.client.GetLink(ctx, "demo")
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if perr != nil || serr != nil {
				fmt.Fprintf(m.Stdout, "%s  link status unavailable: %v %v\n", time.Now().Format(time.TimeOnly), perr, serr)
				continue
			}
			fmt.Fprintf(m.Stdout, "%s  primary LSN %d  secondary LSN %d  %s  lag %s  events: primary %s, secondary %s\n",
				time.Now().Format(time.TimeOnly), ps.Local.LastCommitLSN, ss.Local.LastRedoneLSN, ss.Local.SyncState,
				seconds(max(ps.Local.SecondaryLag, ss.Local.SecondaryLag)), count(pc), count(sc))
		}
	}
}
