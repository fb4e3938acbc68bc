package e2e_test

import "testing"

// grantForTest gives a SQL login a right on a database through the CLI.
func grantForTest(tb testing.TB, in *Instance, login, db, right string) {
	tb.Helper()
	in.MustCLI("login", "grant", login, right, "--database", db)
}
