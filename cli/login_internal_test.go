package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/sqlink/sqlink"
)

func TestPasswordFlagsRead(t *testing.T) {
	for _, tc := range []struct {
		stdin string
		args  []string
		want  string
		code  string
	}{
		{stdin: "s3cret\n", want: "s3cret"},
		{stdin: "s3cret\r\nignored\n", args: []string{"--password-stdin"}, want: "s3cret"},
		{stdin: "no newline", want: "no newline"},
		{stdin: "", code: sqlink.EINVALID},
		{stdin: "\n", args: []string{"--password-stdin"}, code: sqlink.EINVALID},
		{args: []string{"--password", "argv"}, want: "argv"},
		{args: []string{"--password", "argv", "--password-stdin"}, code: sqlink.EINVALID},
	} {
		m := &Main{Stdin: strings.NewReader(tc.stdin), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
		var pf passwordFlags
		cmd := &cobra.Command{Use: "x"}
		pf.add(cmd)
		if err := cmd.ParseFlags(tc.args); err != nil {
			t.Fatal(err)
		}
		got, err := pf.read(m, cmd, "app")
		if code := sqlink.ErrorCode(err); code != tc.code || got != tc.want {
			t.Errorf("stdin %q args %v: %q, %v; want %q, code %q", tc.stdin, tc.args, got, err, tc.want, tc.code)
		}
	}
}
