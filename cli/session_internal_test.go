package cli

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/server"
)

// TestServeSettings_Timeouts checks the session timeouts from flags, the
// environment and the file, their defaults and their 0 ("none").
func TestServeSettings_Timeouts(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "sqlink.yml")
	os.WriteFile(cfgFile, []byte("data-dir: "+dir+"\nstatement-timeout: 2min\nlock-timeout: 0\n"), 0o600)

	st, err := resolveServe(t, map[string]string{"SQLINK_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "90s"}, "--config", cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := st.config(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StatementTimeout != 2*time.Minute || cfg.LockTimeout >= 0 || cfg.IdleInTxTimeout != 90*time.Second {
		t.Fatalf("timeouts = %v, %v, %v; want 2m, none (negative), 90s", cfg.StatementTimeout, cfg.LockTimeout, cfg.IdleInTxTimeout)
	}

	st, err = resolveServe(t, nil, "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err = st.config(nil); err != nil {
		t.Fatal(err)
	}
	if cfg.StatementTimeout >= 0 || cfg.LockTimeout != server.DefaultLockTimeout || cfg.IdleInTxTimeout != server.DefaultIdleInTxTimeout {
		t.Fatalf("default timeouts = %v, %v, %v", cfg.StatementTimeout, cfg.LockTimeout, cfg.IdleInTxTimeout)
	}

	st, err = resolveServe(t, nil, "--data-dir", dir, "--lock-timeout", "soon")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.config(nil); sqlink.ErrorCode(err) != sqlink.EINVALID || sqlink.ErrorHint(err) == "" {
		t.Fatalf("--lock-timeout soon: %v, want EINVALID with a hint", err)
	}
}
