package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
)

// client returns an admin API client from --server/--token or the
// environment.
func (m *Main) client(cmd *cobra.Command) (*adminapi.Client, error) {
	url := m.server
	if url == "" {
		url = m.env("server")
	}
	if url == "" {
		url = "https://" + defaultAdminHost
	}
	url = withScheme(url)
	token := m.token
	if !cmd.Flags().Changed("token") && token == "" {
		token = m.env("token")
	}
	if token == "" {
		return nil, sqlink.Errorf(sqlink.EUNAUTHORIZED, "pass --token or set SQLINK_TOKEN (init printed the sysadmin token)", "no admin token given")
	}
	return adminClient(url, token, m.trust("", "", ""))
}

// ts formats a time for tables.
func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

var _ = fmt.Sprint
