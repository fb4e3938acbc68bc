package testutil

import (
	"os/signal"
	"syscall"
	"testing"
)

// LimitFileSize sets the process's file size limit (RLIMIT_FSIZE) to n
// bytes, a full disk for one file that grows past n: a write there fails
// with EFBIG, in part when it straddles n (SIGXFSZ is ignored so it does
// not kill the process). The returned func restores the limit and the
// signal; call it as soon as the write under test is done, since the limit
// holds for every file the process writes. It skips the test where the
// limit cannot be set.
func LimitFileSize(tb testing.TB, n int64) (restore func()) {
	tb.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		tb.Skipf("getrlimit: %v", err)
	}
	signal.Ignore(syscall.SIGXFSZ)
	lim := old
	lim.Cur = uint64(n)
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		signal.Reset(syscall.SIGXFSZ)
		tb.Skipf("setrlimit: %v", err)
	}
	return func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
			tb.Fatalf("restore the file size limit: %v", err)
		}
		signal.Reset(syscall.SIGXFSZ)
	}
}
