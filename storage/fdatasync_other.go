//go:build !linux

package storage

import "os"

// fdatasync writes f to disk (fsync where fdatasync is not available).
func fdatasync(f *os.File) error { return f.Sync() }
