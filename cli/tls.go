package cli

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/server"
)

// tlsSettings are serve's TLS settings for the client and admin listeners.
type tlsSettings struct {
	TLSCert           string
	TLSKey            string
	RequireClientTLS  bool
	InsecureAdminHTTP bool
}

// tlsFileConfig is their part of the config file.
type tlsFileConfig struct {
	TLSCert           string `yaml:"tls-cert"`
	TLSKey            string `yaml:"tls-key"`
	RequireClientTLS  *bool  `yaml:"require-client-tls"`
	InsecureAdminHTTP *bool  `yaml:"insecure-admin-http"`
}

func (t *tlsSettings) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&t.TLSCert, "tls-cert", "", "PEM certificate (chain) the client and admin listeners serve, reloaded on SIGHUP or when the file changes (default: the self-signed one init made; env SQLINK_TLS_CERT)")
	fs.StringVar(&t.TLSKey, "tls-key", "", "PEM private key of --tls-cert (env SQLINK_TLS_KEY)")
	fs.BoolVar(&t.RequireClientTLS, "require-client-tls", false, "refuse PostgreSQL sessions without TLS (FATAL 28000; env SQLINK_REQUIRE_CLIENT_TLS)")
	fs.BoolVar(&t.InsecureAdminHTTP, "insecure-admin-http", false, "serve the admin API in plain HTTP instead of HTTPS: tokens cross the network in clear (env SQLINK_INSECURE_ADMIN_HTTP)")
}

// resolve fills the settings whose flag was not given from the environment,
// then from the config file.
func (t *tlsSettings) resolve(m *Main, fs *pflag.FlagSet, fc tlsFileConfig) error {
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
	str("tls-cert", &t.TLSCert, fc.TLSCert)
	str("tls-key", &t.TLSKey, fc.TLSKey)
	for _, b := range []struct {
		name string
		dst  *bool
		file *bool
	}{
		{"require-client-tls", &t.RequireClientTLS, fc.RequireClientTLS},
		{"insecure-admin-http", &t.InsecureAdminHTTP, fc.InsecureAdminHTTP},
	} {
		if fs.Lookup(b.name) == nil || fs.Changed(b.name) {
			continue
		}
		if v := m.env(b.name); v != "" {
			x, err := strconv.ParseBool(v)
			if err != nil {
				return sqlink.Errorf(sqlink.EINVALID, "use true or false", "SQLINK_%s=%q is not a boolean", strings.ToUpper(strings.ReplaceAll(b.name, "-", "_")), v)
			}
			*b.dst = x
		} else if b.file != nil {
			*b.dst = *b.file
		}
	}
	return nil
}

func (t *tlsSettings) apply(cfg *server.Config) {
	cfg.TLSCertFile, cfg.TLSKeyFile = t.TLSCert, t.TLSKey
	cfg.RequireClientTLS = t.RequireClientTLS
	cfg.InsecureAdminHTTP = t.InsecureAdminHTTP
}

// printInitTLS prints the listeners' self-signed certificate, which
// clients pin.
func (m *Main) printInitTLS(res server.InitResult) {
	if res.TLSFingerprint == "" {
		return
	}
	fmt.Fprintf(m.Stdout, "TLS certificate (client and admin listeners, self-signed) %s, valid until %s.\n", res.TLSFingerprint, res.TLSNotAfter.Format(time.RFC3339))
	fmt.Fprintf(m.Stdout, "  Pin it with --fingerprint %s (or SQLINK_FINGERPRINT), or serve your own with --tls-cert and --tls-key.\n", res.TLSFingerprint)
}

// reloadOnSIGHUP reloads the listeners' certificate on each SIGHUP until
// the returned function is called.
func reloadOnSIGHUP(s *server.Server) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-ch:
				s.ReloadTLS() // logs the outcome
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}

// trust returns the TLS options of a client for one instance: its own
// fingerprint flag (fp, from flag or the environment variable env), else
// --fingerprint, and --ca-file. flag names the fingerprint flag in hints.
func (m *Main) trust(fp, flag, env string) adminapi.TLSOptions {
	o := adminapi.TLSOptions{CAFile: m.caFile, Fingerprint: fp}
	if o.CAFile == "" {
		o.CAFile = m.env("ca-file")
	}
	if o.Fingerprint == "" && env != "" {
		o.Fingerprint = m.env(env)
	}
	if o.Fingerprint == "" {
		o.Fingerprint = m.fingerprint
	}
	if o.Fingerprint == "" {
		o.Fingerprint = m.env("fingerprint")
	}
	if flag != "" {
		o.FingerprintFlag, o.FingerprintEnv = flag, "SQLINK_"+strings.ToUpper(strings.ReplaceAll(strings.TrimPrefix(flag, "--"), "-", "_"))
	}
	return o
}

// adminClient returns a client for the admin API at url trusting what o
// allows.
func adminClient(url, token string, o adminapi.TLSOptions) (*adminapi.Client, error) {
	return adminapi.NewClientTLS(url, token, o)
}

// withScheme adds https:// to a URL given as host:port.
func withScheme(u string) string {
	if !strings.Contains(u, "://") {
		return "https://" + u
	}
	return u
}

// refuseClearTokens refuses to send a token in plain HTTP to an address
// off loopback: it would cross the network in clear.
func refuseClearTokens(role, u string) error {
	if !strings.HasPrefix(strings.ToLower(u), "http://") || adminapi.IsLoopbackURL(u) {
		return nil
	}
	return sqlink.Errorf(sqlink.EINVALID,
		fmt.Sprintf("use https://%s (admin listeners serve HTTPS by default; trust the certificate with --%s-fingerprint or --ca-file)", strings.TrimPrefix(u[len("http://"):], "/"), role),
		"refusing to send the %s's admin token in clear to %s, which is not a loopback address", role, u)
}
