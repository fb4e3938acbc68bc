package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/pgwire"
	"github.com/sqlink/sqlink/server"
	"github.com/sqlink/sqlink/storage"
	"go.yaml.in/yaml/v3"
)

const defaultAdminHost = server.DefaultAdminAddr

// serverSettings are the settings of `serve` (and the ones `init` shares).
// Each can come from a flag, an SQLINK_* environment variable or the config
// file, in that order of precedence.
type serverSettings struct {
	ConfigFile   string
	DataDir      string
	ClientAddr   string
	AdminAddr    string
	EndpointAddr string
	Synchronous  string
	MaxConns     int
	LogLevel     string
	LogFormat    string
	DebugAddr    string

	LinkLogCap         string
	LinkSessionTimeout time.Duration
	LinkHardenDelay    time.Duration
	LogRetention       string
	MaxTransactionSize string
	SQLiteHeapLimit    string

	AuthenticationTimeout time.Duration
	AdminReadTimeout      time.Duration
	AdminIdleTimeout      time.Duration
	MetricsAuth           bool

	StatementTimeout string
	LockTimeout      string
	IdleInTxTimeout  string
	tlsSettings
	etcdSettings
}

// fileConfig is the config file format (YAML). Only cli knows it; it is
// translated into server.Config.
type fileConfig struct {
	DataDir      string `yaml:"data-dir"`
	ClientAddr   string `yaml:"client-addr"`
	AdminAddr    string `yaml:"admin-addr"`
	EndpointAddr string `yaml:"endpoint-addr"`
	Synchronous  string `yaml:"synchronous"`
	MaxConns     int    `yaml:"max-conns"`
	LogLevel     string `yaml:"log-level"`
	LogFormat    string `yaml:"log-format"`

	LinkLogCap         string `yaml:"link-log-cap"`
	LinkSessionTimeout string `yaml:"link-session-timeout"`
	LinkHardenDelay    string `yaml:"link-harden-delay"`
	LogRetention       string `yaml:"log-retention"`
	MaxTransactionSize string `yaml:"max-transaction-size"`
	SQLiteHeapLimit    string `yaml:"sqlite-heap-limit"`

	AuthenticationTimeout string `yaml:"authentication-timeout"`
	AdminReadTimeout      string `yaml:"admin-read-timeout"`
	AdminIdleTimeout      string `yaml:"admin-idle-timeout"`
	MetricsAuth           *bool  `yaml:"metrics-auth"`

	StatementTimeout string `yaml:"statement-timeout"`
	LockTimeout      string `yaml:"lock-timeout"`
	IdleInTxTimeout  string `yaml:"idle-in-transaction-session-timeout"`
	tlsFileConfig    `yaml:",inline"`
	etcdFileConfig   `yaml:",inline"`
}

func (s *serverSettings) addFlags(fs *pflag.FlagSet, serve bool) {
	fs.StringVar(&s.ConfigFile, "config", "", "YAML config file (env SQLINK_CONFIG)")
	fs.StringVar(&s.DataDir, "data-dir", "", "instance data directory (env SQLINK_DATA_DIR)")
	if serve {
		fs.StringVar(&s.ClientAddr, "client-addr", server.DefaultClientAddr, "PostgreSQL protocol listener (env SQLINK_CLIENT_ADDR)")
		fs.StringVar(&s.AdminAddr, "admin-addr", server.DefaultAdminAddr, "admin API listener (env SQLINK_ADMIN_ADDR)")
		fs.StringVar(&s.EndpointAddr, "endpoint-addr", server.DefaultEndpointAddr, "replication endpoint listener (env SQLINK_ENDPOINT_ADDR)")
		fs.StringVar(&s.Synchronous, "synchronous", "FULL", "SQLite synchronous level: FULL (durable commits) or NORMAL (env SQLINK_SYNCHRONOUS)")
		fs.IntVar(&s.MaxConns, "max-conns", 100, "maximum client connections, sessions and those still authenticating (env SQLINK_MAX_CONNS)")
		fs.StringVar(&s.LogLevel, "log-level", "info", "debug, info, warn or error (env SQLINK_LOG_LEVEL)")
		fs.StringVar(&s.LogFormat, "log-format", "text", "text or json (env SQLINK_LOG_FORMAT)")
		fs.StringVar(&s.DebugAddr, "debug-addr", "", "serve Go's pprof profiles on this address, e.g. 127.0.0.1:6060 (off by default)")
		fs.StringVar(&s.LinkLogCap, "link-log-cap", "1GiB", "replication log a primary keeps for an absent secondary before the link needs a reseed (env SQLINK_LINK_LOG_CAP)")
		fs.DurationVar(&s.LinkSessionTimeout, "link-session-timeout", server.DefaultLinkSessionTimeout, "silence after which a link is disconnected and sync commits stop waiting (env SQLINK_LINK_SESSION_TIMEOUT)")
		fs.DurationVar(&s.LinkHardenDelay, "link-harden-delay", server.DefaultLinkHardenDelay, "how long an async secondary gathers records into one log fsync; 0 for none (env SQLINK_LINK_HARDEN_DELAY)")
		fs.StringVar(&s.LogRetention, "log-retention", "256MiB", "replication log kept after checkpoints for seeding from a restored backup (env SQLINK_LOG_RETENTION)")
		fs.StringVar(&s.StatementTimeout, "statement-timeout", "0", "every SQL session's initial statement_timeout: a longer statement is cancelled; 0 for none, e.g. 30s or 5min (env SQLINK_STATEMENT_TIMEOUT)")
		fs.StringVar(&s.LockTimeout, "lock-timeout", pgwire.FormatTimeout(server.DefaultLockTimeout), "every SQL session's initial lock_timeout: the longest wait for a database's write lock; 0 for none (env SQLINK_LOCK_TIMEOUT)")
		fs.StringVar(&s.IdleInTxTimeout, "idle-in-transaction-session-timeout", pgwire.FormatTimeout(server.DefaultIdleInTxTimeout), "every SQL session's initial idle_in_transaction_session_timeout: a session idle that long in a transaction is ended and rolled back, releasing the write lock; 0 for none (env SQLINK_IDLE_IN_TRANSACTION_SESSION_TIMEOUT)")
		fs.StringVar(&s.SQLiteHeapLimit, "sqlite-heap-limit", "1GiB", "memory SQLite may take in this instance, every database and session together; a statement that needs more fails with 53200 out of memory instead of taking the machine's memory; 0 for no limit (env SQLINK_SQLITE_HEAP_LIMIT)")
		fs.DurationVar(&s.AuthenticationTimeout, "authentication-timeout", pgwire.DefaultStartupTimeout, "time a client connection has from connecting to the end of authentication (env SQLINK_AUTHENTICATION_TIMEOUT)")
		fs.DurationVar(&s.AdminReadTimeout, "admin-read-timeout", adminapi.DefaultReadTimeout, "time an admin API request's headers and body may take to arrive; a restore upload may not stall longer (env SQLINK_ADMIN_READ_TIMEOUT)")
		fs.DurationVar(&s.AdminIdleTimeout, "admin-idle-timeout", server.DefaultAdminIdleTimeout, "idle admin API keep-alive connections are closed after this (env SQLINK_ADMIN_IDLE_TIMEOUT)")
		fs.BoolVar(&s.MetricsAuth, "metrics-auth", false, "require a token with instance/read for /metrics (env SQLINK_METRICS_AUTH)")
		s.tlsSettings.addFlags(fs)
		s.etcdSettings.addFlags(fs)
		fs.StringVar(&s.MaxTransactionSize, "max-transaction-size", "", "most pages one transaction may change (its replication record, held in memory on both replicas); larger ones are refused at COMMIT; 16MiB to 2GiB (default 2GiB, the most one record holds; env SQLINK_MAX_TRANSACTION_SIZE)")
	}
}

// resolve fills every setting whose flag was not given from the
// environment, then from the config file.
func (s *serverSettings) resolve(m *Main, fs *pflag.FlagSet) error {
	if !fs.Changed("config") {
		if v := m.env("config"); v != "" {
			s.ConfigFile = v
		}
	}
	var fc fileConfig
	if s.ConfigFile != "" {
		b, err := os.ReadFile(s.ConfigFile)
		if err != nil {
			return sqlink.Errorf(sqlink.EINVALID, "check the --config path", "read config file: %v", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&fc); err != nil && err != io.EOF {
			return sqlink.Errorf(sqlink.EINVALID, "keys are data-dir, client-addr, admin-addr, endpoint-addr, synchronous, max-conns, log-level, log-format, link-log-cap, link-session-timeout, link-harden-delay, log-retention, max-transaction-size, sqlite-heap-limit, authentication-timeout, admin-read-timeout, admin-idle-timeout, metrics-auth, statement-timeout, lock-timeout, idle-in-transaction-session-timeout, tls-cert, tls-key, require-client-tls, insecure-admin-http, etcd-endpoints, etcd-ca-file, etcd-cert, etcd-key",
				"config file %s: %v", s.ConfigFile, err)
		}
	}
	str := func(name string, dst *string, file string) {
		if fs.Lookup(name) == nil || fs.Changed(name) {
			return
		}
		if v := m.env(name); v != "" {
			*dst = v
		} else if file != "" {
			*dst = file
		}
	}
	str("data-dir", &s.DataDir, fc.DataDir)
	str("client-addr", &s.ClientAddr, fc.ClientAddr)
	str("admin-addr", &s.AdminAddr, fc.AdminAddr)
	str("endpoint-addr", &s.EndpointAddr, fc.EndpointAddr)
	str("synchronous", &s.Synchronous, fc.Synchronous)
	str("log-level", &s.LogLevel, fc.LogLevel)
	str("log-format", &s.LogFormat, fc.LogFormat)
	str("link-log-cap", &s.LinkLogCap, fc.LinkLogCap)
	str("log-retention", &s.LogRetention, fc.LogRetention)
	str("max-transaction-size", &s.MaxTransactionSize, fc.MaxTransactionSize)
	str("statement-timeout", &s.StatementTimeout, fc.StatementTimeout)
	str("lock-timeout", &s.LockTimeout, fc.LockTimeout)
	str("idle-in-transaction-session-timeout", &s.IdleInTxTimeout, fc.IdleInTxTimeout)
	str("sqlite-heap-limit", &s.SQLiteHeapLimit, fc.SQLiteHeapLimit)
	// dur sets a duration from the environment or the file; zero is
	// allowed only where zeroOK.
	dur := func(name string, dst *time.Duration, file string, zeroOK bool, hint string) error {
		if fs.Lookup(name) == nil || fs.Changed(name) {
			return nil
		}
		v := m.env(name)
		if v == "" {
			v = file
		}
		if v == "" {
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || (d == 0 && !zeroOK) {
			return sqlink.Errorf(sqlink.EINVALID, hint, "invalid %s %q", strings.ReplaceAll(name, "-", " "), v)
		}
		*dst = d
		return nil
	}
	if err := dur("link-session-timeout", &s.LinkSessionTimeout, fc.LinkSessionTimeout, false, "use a duration such as 10s"); err != nil {
		return err
	}
	if err := dur("link-harden-delay", &s.LinkHardenDelay, fc.LinkHardenDelay, true, "use a duration such as 2ms, or 0 to fsync every batch at once"); err != nil {
		return err
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
		file string
	}{
		{"authentication-timeout", &s.AuthenticationTimeout, fc.AuthenticationTimeout},
		{"admin-read-timeout", &s.AdminReadTimeout, fc.AdminReadTimeout},
		{"admin-idle-timeout", &s.AdminIdleTimeout, fc.AdminIdleTimeout},
	} {
		if err := dur(d.name, d.dst, d.file, false, "use a duration such as 30s"); err != nil {
			return err
		}
	}
	if fs.Lookup("metrics-auth") != nil && !fs.Changed("metrics-auth") {
		if v := m.env("metrics-auth"); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return sqlink.Errorf(sqlink.EINVALID, "use true or false", "SQLINK_METRICS_AUTH=%q is not a boolean", v)
			}
			s.MetricsAuth = b
		} else if fc.MetricsAuth != nil {
			s.MetricsAuth = *fc.MetricsAuth
		}
	}
	if err := s.tlsSettings.resolve(m, fs, fc.tlsFileConfig); err != nil {
		return err
	}
	s.etcdSettings.resolve(m, fs, fc.etcdFileConfig)
	if fs.Lookup("max-conns") != nil && !fs.Changed("max-conns") {
		if v := m.env("max-conns"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return sqlink.Errorf(sqlink.EINVALID, "use a whole number", "SQLINK_MAX_CONNS=%q is not a number", v)
			}
			s.MaxConns = n
		} else if fc.MaxConns != 0 {
			s.MaxConns = fc.MaxConns
		}
	}
	s.Synchronous = strings.ToUpper(s.Synchronous)
	if s.DataDir == "" {
		return sqlink.Errorf(sqlink.EINVALID, "pass --data-dir DIR or set SQLINK_DATA_DIR", "no data directory given")
	}
	return nil
}

func (s *serverSettings) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(s.LogLevel)); err != nil {
		return nil, sqlink.Errorf(sqlink.EINVALID, "use debug, info, warn or error", "invalid log level %q", s.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch s.LogFormat {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, sqlink.Errorf(sqlink.EINVALID, "use text or json", "invalid log format %q", s.LogFormat)
}

// bytes parses a size such as 1GiB, 64MB or 4096.
func parseBytes(name, v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := humanize.ParseBytes(v)
	if err != nil || n == 0 || n > 1<<62 {
		return 0, sqlink.Errorf(sqlink.EINVALID, "use a size such as 64MiB or 1GiB", "invalid %s %q", name, v)
	}
	return int64(n), nil
}

func (s *serverSettings) config(log *slog.Logger) (server.Config, error) {
	logCap, err := parseBytes("--link-log-cap", s.LinkLogCap)
	if err != nil {
		return server.Config{}, err
	}
	retention, err := parseBytes("--log-retention", s.LogRetention)
	if err != nil {
		return server.Config{}, err
	}
	maxTx, err := parseBytes("--max-transaction-size", s.MaxTransactionSize)
	if err != nil {
		return server.Config{}, err
	}
	var heap int64
	if s.SQLiteHeapLimit != "0" {
		if heap, err = parseBytes("--sqlite-heap-limit", s.SQLiteHeapLimit); err != nil {
			return server.Config{}, err
		}
	}
	var timeouts [3]time.Duration
	for i, t := range []struct{ flag, v string }{
		{"--statement-timeout", s.StatementTimeout},
		{"--lock-timeout", s.LockTimeout},
		{"--idle-in-transaction-session-timeout", s.IdleInTxTimeout},
	} {
		if timeouts[i], err = sessionTimeout(t.flag, t.v); err != nil {
			return server.Config{}, err
		}
	}
	if maxTx > storage.MaxRecordBytes {
		maxTx = storage.MaxRecordBytes // "2GiB" and the like: the most there is
	}
	cfg := server.Config{
		MaxTransactionBytes: maxTx,
		SQLiteHeapLimit:     heap,
		LinkLogCapBytes:     logCap,
		LinkSessionTimeout:  s.LinkSessionTimeout,
		LinkHardenDelay:     hardenDelay(s.LinkHardenDelay),
		LogRetentionBytes:   retention,
		DataDir:             s.DataDir,
		ClientAddr:          s.ClientAddr,
		AdminAddr:           s.AdminAddr,
		EndpointAddr:        s.EndpointAddr,
		Synchronous:         s.Synchronous,
		MaxConns:            s.MaxConns,
		StatementTimeout:    timeouts[0],
		LockTimeout:         timeouts[1],
		IdleInTxTimeout:     timeouts[2],
		Logger:              log,

		AuthenticationTimeout: s.AuthenticationTimeout,
		AdminReadTimeout:      s.AdminReadTimeout,
		AdminIdleTimeout:      s.AdminIdleTimeout,
		MetricsAuth:           s.MetricsAuth,
	}
	s.tlsSettings.apply(&cfg)
	return cfg, nil
}

// sessionTimeout parses a session timeout setting as PostgreSQL writes it
// (500ms, 30s, 5min; a plain number is milliseconds; Go's 1m30s works too)
// and maps its 0 ("none") to the server's negative "none" (its zero means
// the default). Empty is the default.
func sessionTimeout(flag, v string) (time.Duration, error) {
	if strings.TrimSpace(v) == "" {
		return 0, nil
	}
	d, err := pgwire.ParseTimeout(v)
	if err != nil {
		return 0, sqlink.Errorf(sqlink.EINVALID, "use a duration such as 500ms, 30s or 5min, or 0 for none", "invalid %s %q: %v", flag, v, err)
	}
	if d == 0 {
		return -1, nil
	}
	return d, nil
}

func (m *Main) initCommand() *cobra.Command {
	var (
		st           serverSettings
		name         string
		tokenFile    string
		passwordFile string
		collation    string
		certValidity time.Duration
	)
	cmd := &cobra.Command{
		Use:   "init --data-dir DIR [--name NAME]",
		Short: "Create an instance in an empty data directory",
		Long: `init creates an instance: its catalog, an endpoint certificate and key, a
sysadmin admin token and an "admin" SQL login. Secrets come from the given
files, or are generated and printed once; they are stored hashed.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := st.resolve(m, cmd.Flags()); err != nil {
				return err
			}
			opts := server.InitOptions{DataDir: st.DataDir, Name: name, Collation: collation, CertValidity: certValidity}
			var err error
			if tokenFile != "" {
				if opts.AdminToken, err = server.ReadSecretFile(tokenFile); err != nil {
					return err
				}
			}
			if passwordFile != "" {
				if opts.SQLPassword, err = server.ReadSecretFile(passwordFile); err != nil {
					return err
				}
			}
			res, err := server.Init(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return m.printInit(res)
		},
	}
	st.addFlags(cmd.Flags(), false)
	cmd.Flags().StringVar(&name, "name", "", "instance name (default: the host name)")
	cmd.Flags().StringVar(&tokenFile, "admin-token-file", "", "file holding the sysadmin token (default: generate one)")
	cmd.Flags().StringVar(&passwordFile, "sql-password-file", "", "file holding the admin SQL login's password (default: generate one)")
	cmd.Flags().StringVar(&collation, "collation", "binary", "server collation: binary or nocase")
	cmd.Flags().DurationVar(&certValidity, "cert-validity", server.DefaultCertValidity, "endpoint certificate validity")
	return cmd
}

func (m *Main) printInit(res server.InitResult) error {
	if m.output == "json" {
		return m.emit(res, nil)
	}
	fmt.Fprintf(m.Stdout, "Initialised instance %q (id %s).\n", res.Name, res.InstanceID)
	fmt.Fprintf(m.Stdout, "Endpoint certificate %s, valid until %s.\n", res.CertFingerprint, res.CertNotAfter.Format(time.RFC3339))
	m.printInitTLS(res)
	if res.Token != "" {
		fmt.Fprintf(m.Stdout, "Admin token (sysadmin), shown only once: %s\n", res.Token)
	}
	if res.Password != "" {
		fmt.Fprintf(m.Stdout, "SQL login %q password, shown only once: %s\n", server.AdminLogin, res.Password)
	}
	return nil
}

func (m *Main) serveCommand() *cobra.Command {
	var st serverSettings
	cmd := &cobra.Command{
		Use:   "serve --data-dir DIR",
		Short: "Run an instance (initialising an empty data directory first)",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := st.resolve(m, cmd.Flags()); err != nil {
				return err
			}
			log, err := st.logger(m.Stderr)
			if err != nil {
				return err
			}
			if st.DebugAddr != "" {
				if err := serveDebug(cmd.Context(), st.DebugAddr); err != nil {
					return err
				}
			}
			cfg, err := st.config(log)
			if err != nil {
				return err
			}
			if cfg.Etcd, err = st.etcdSettings.client(m); err != nil {
				return err
			}
			if cfg.Etcd != nil {
				defer cfg.Etcd.Close()
			}
			return runServer(cmd.Context(), m, cfg)
		},
	}
	st.addFlags(cmd.Flags(), true)
	return cmd
}

// runServer opens, starts and serves an instance until ctx ends (SIGINT or
// SIGTERM in main), then shuts it down cleanly.
func runServer(ctx context.Context, m *Main, cfg server.Config) error {
	s, initRes, err := server.Open(ctx, cfg)
	if err != nil {
		return err
	}
	if initRes != nil {
		if cfg.TLSCertFile != "" {
			initRes.TLSFingerprint = "" // the listeners serve the operator's certificate
		}
		if err := m.printInit(*initRes); err != nil {
			return err
		}
	}
	if err := s.Start(ctx); err != nil {
		s.Close(context.Background())
		return err
	}
	stopHUP := reloadOnSIGHUP(s)
	defer stopHUP()
	fmt.Fprintf(m.Stdout, "sqlink instance %q serving: client %s, admin %s\n", s.Name(), s.ClientAddr(), s.AdminURL())
	<-ctx.Done()
	timeout := cfg.ShutdownTimeout
	if timeout == 0 {
		timeout = server.DefaultShutdownTimeout
	}
	cctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.Close(cctx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	fmt.Fprintln(m.Stdout, "sqlink instance stopped")
	return nil
}

// serveDebug serves net/http/pprof on its own loopback listener until ctx
// ends. It is off unless --debug-addr is given: profiles reveal internals
// and cost CPU, so they never share the admin listener.
func serveDebug(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return sqlink.Errorf(sqlink.EUNAVAILABLE, "pick another --debug-addr", "listen on debug address %s: %v", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	return nil
}

// hardenDelay maps the flag's 0 ("none") to the server's negative "none"
// (its zero means the default).
func hardenDelay(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
