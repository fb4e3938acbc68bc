package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"
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
`

func (m *Main) demoCommand() *cobra.Command {
	var (
		dir      string
		logLevel string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a throw-away instance with a sample database",
		Long: `demo starts an instance in a temporary directory on free loopback ports,
creates the database "demo" with sample data, prints a psql command line and
the admin URL, and runs until Ctrl-C.`,
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
	cmd.Flags().StringVar(&dir, "dir", "", "data directory to use (default: a temporary one, removed on exit)")
	cmd.Flags().StringVar(&logLevel, "log-level", "warn", "server log level")
	return cmd
}

func (m *Main) runDemo(ctx context.Context, dir string, log *slog.Logger) error {
	res, err := server.Init(ctx, server.InitOptions{DataDir: dir, Name: "demo"})
	if err != nil {
		return err
	}
	s, _, err := server.Open(ctx, server.Config{
		DataDir:      dir,
		ClientAddr:   "127.0.0.1:0",
		AdminAddr:    "127.0.0.1:0",
		EndpointAddr: "127.0.0.1:0",
		Logger:       log,
	})
	if err != nil {
		return err
	}
	if err := s.Start(ctx); err != nil {
		s.Close(context.Background())
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), server.DefaultShutdownTimeout)
		defer cancel()
		s.Close(cctx)
	}()
	if err := s.CreateDatabase(ctx, "demo"); err != nil {
		return err
	}
	if err := s.Exec(ctx, "demo", demoData); err != nil {
		return fmt.Errorf("load sample data: %w", err)
	}

	host, port, _ := net.SplitHostPort(s.ClientAddr())
	fmt.Fprintf(m.Stdout, "sqlink demo: instance %q in %s\n\n", s.Name(), dir)
	fmt.Fprintf(m.Stdout, "Query the sample database with psql:\n")
	fmt.Fprintf(m.Stdout, "  PGPASSWORD=%s psql \"host=%s port=%s user=admin dbname=demo sslmode=disable\"\n", res.Password, host, port)
	fmt.Fprintf(m.Stdout, "  (try: SELECT c.name, count(*), sum(o.amount) FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY 1;)\n\n")
	fmt.Fprintf(m.Stdout, "Admin API: http://%s  (token %s)\n", s.AdminAddr(), res.Token)
	fmt.Fprintf(m.Stdout, "  SQLINK_SERVER=http://%s SQLINK_TOKEN=%s go run ./cmd/sqlink db show demo\n\n", s.AdminAddr(), res.Token)
	fmt.Fprintf(m.Stdout, "Press Ctrl-C to stop.\n")
	<-ctx.Done()
	fmt.Fprintf(m.Stdout, "\nstopping (%s)\n", time.Now().Format(time.TimeOnly))
	return nil
}
