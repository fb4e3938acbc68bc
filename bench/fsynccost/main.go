// Command fsynccost measures what one write plus fdatasync costs the
// process in CPU (user and system time from getrusage) and in wall time,
// for writes the size of a PostgreSQL TPC-B commit's WAL (about 600
// bytes), of one 8 KiB page, and of a SQLite TPC-B commit's WAL frames
// (5 pages of 4 KiB with their 24-byte headers), appended in place to a
// file written and synced ahead, as both systems' logs are.
//
//	go run ./bench/fsynccost -dir /path/on/the/disk/under/test
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	dir := flag.String("dir", os.TempDir(), "directory on the file system to measure")
	n := flag.Int("n", 3000, "write+fdatasync pairs per size")
	reps := flag.Int("reps", 3, "rounds over the sizes")
	flag.Parse()
	path := filepath.Join(*dir, "fsynccost.tmp")
	defer os.Remove(path)
	fmt.Println("rep\tbytes\twall_us\tuser_us\tsys_us\t(per write+fdatasync)")
	for rep := 1; rep <= *reps; rep++ {
		for _, size := range []int{600, 8192, 5 * (4096 + 24)} {
			wall, user, sys, err := measure(path, size, *n)
			if err != nil {
				log.Fatalf("fsynccost: %v", err)
			}
			fmt.Printf("%d\t%d\t%.0f\t%.1f\t%.1f\n", rep, size, per(wall, *n), per(user, *n), per(sys, *n))
		}
	}
}

func measure(path string, size, n int) (wall, user, sys time.Duration, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	// Written and synced ahead: the appends below change no file size.
	if _, err := f.Write(make([]byte, size*n)); err != nil {
		return 0, 0, 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, 0, 0, err
	}
	buf := make([]byte, size)
	u0, s0 := rusage()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		buf[0] = byte(i + 1)
		if _, err := f.WriteAt(buf, int64(i*size)); err != nil {
			return 0, 0, 0, err
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return 0, 0, 0, err
		}
	}
	wall = time.Since(t0)
	u1, s1 := rusage()
	return wall, u1 - u0, s1 - s0, nil
}

func rusage() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		log.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

func per(d time.Duration, n int) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(n) }
