// Package fsutil holds the file-system steps durability needs in more than
// one package.
package fsutil

import (
	"fmt"
	"os"
)

// SyncDir fsyncs the directory dir, which makes the creation, removal or
// renaming of a file in it durable (the file's own fsync does not).
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
