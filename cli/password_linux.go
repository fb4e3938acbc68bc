//go:build linux

package cli

import (
	"os"

	"golang.org/x/sys/unix"
)

// terminal returns r as a terminal file, or nil when it is not one.
func terminal(r any) *os.File {
	f, ok := r.(*os.File)
	if !ok {
		return nil
	}
	if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err != nil {
		return nil
	}
	return f
}

// readNoEcho turns echo off on the terminal f, calls prompt, and reads a
// line. Echo is off before the prompt shows, so nothing typed after it
// is ever echoed.
func readNoEcho(f *os.File, prompt func()) (string, error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", err
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return "", err
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	prompt()
	return readLine(f)
}
