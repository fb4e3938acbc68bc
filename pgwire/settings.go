package pgwire

import (
	"fmt"
)

// setting returns the value of a session setting, lower-case name.
func (c *clientConn) setting(name string) string {
	if v, ok := c.params[name]; ok {
		return v
	}
	v, _ := c.show(name)
	return v
}

// show answers SHOW name.
func (c *clientConn) show(name string) (string, error) {
	ro, _ := c.sess.ReadOnly()
	switch name {
	case "transaction_read_only":
		return onOff(ro || c.txQueryOnly), nil
	case "default_transaction_read_only", "in_hot_standby":
		return onOff(ro), nil
	}
	if v, ok := c.params[name]; ok {
		return v, nil
	}
	switch name {
	case "server_version":
		return c.srv.cfg.ServerVersion, nil
	case "server_version_num":
		return serverVersionNum(c.srv.cfg.ServerVersion), nil
	case "server_encoding", "client_encoding":
		return "UTF8", nil
	case "standard_conforming_strings", "integer_datetimes":
		return "on", nil
	case "datestyle":
		return "ISO, MDY", nil
	case "timezone", "log_timezone":
		return "UTC", nil
	case "intervalstyle":
		return "postgres", nil
	case "application_name":
		return "", nil
	case "is_superuser":
		return "off", nil
	case "session_authorization":
		return c.user, nil
	case "transaction_isolation", "default_transaction_isolation":
		return "serializable", nil
	case "search_path":
		return `"$user", public`, nil
	case "max_identifier_length":
		return "63", nil
	case "max_connections":
		return fmt.Sprint(c.srv.cfg.MaxConns), nil
	case "lc_collate", "lc_ctype", "lc_messages", "lc_monetary", "lc_numeric", "lc_time":
		return "C", nil
	case "extra_float_digits":
		return "1", nil
	case settingStatementTimeout, settingLockTimeout, settingIdleInTxTimeout:
		return FormatTimeout(c.defaultTimeout(name)), nil
	case "bytea_output":
		return "hex", nil
	case "synchronous_commit":
		return "on", nil
	}
	return "", newPgError(codeUndefinedObject, fmt.Sprintf("unrecognized configuration parameter %q", name))
}

// serverVersionNum turns "15.0" into "150000".
func serverVersionNum(v string) string {
	var major, minor int
	fmt.Sscanf(v, "%d.%d", &major, &minor)
	return fmt.Sprint(major*10000 + minor)
}

func (c *clientConn) sqliteVersion() string {
	if c.sqliteV != "" {
		return c.sqliteV
	}
	var v string
	if err := c.sess.Conn().QueryRowContext(c.ctx, "select sqlite_version()").Scan(&v); err == nil {
		c.sqliteV = v
	}
	return v
}
