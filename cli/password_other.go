//go:build !linux

package cli

import "os"

// terminal returns nil: prompting without echo is implemented on Linux
// only; elsewhere pass --password-stdin.
func terminal(r any) *os.File { return nil }

func readNoEcho(f *os.File, prompt func()) (string, error) { prompt(); return readLine(f) }
