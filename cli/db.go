package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
)

func (m *Main) dbCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "db", Short: "Create, list, show and drop databases"}
	cmd.AddCommand(
		&cobra.Command{
			Use: "create NAME", Short: "Create an empty database", Args: exactArgs(1, "a database name"),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := m.client(cmd)
				if err != nil {
					return err
				}
				info, err := c.CreateDatabase(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return m.emit(info, func(w *tabwriter.Writer) { fmt.Fprintf(w, "Created database %s.\n", info.Name) })
			},
		},
		&cobra.Command{
			Use: "list", Short: "List databases", Args: exactArgs(0, "no arguments"),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := m.client(cmd)
				if err != nil {
					return err
				}
				dbs, err := c.ListDatabases(cmd.Context())
				if err != nil {
					return err
				}
				return m.emit(dbs, func(w *tabwriter.Writer) {
					fmt.Fprintln(w, "NAME\tSTATE\tREAD-ONLY\tLSN\tSIZE\tCREATED")
					for _, d := range dbs {
						fmt.Fprintf(w, "%s\t%s\t%v\t%d\t%s\t%s\n", d.Name, d.State, d.ReadOnly, d.Pos.LSN, bytesHuman(d.SizeBytes), ts(d.CreatedAt))
					}
				})
			},
		},
		&cobra.Command{
			Use: "show NAME", Short: "Show a database: state, LSN, size, backup history", Args: exactArgs(1, "a database name"),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := m.client(cmd)
				if err != nil {
					return err
				}
				d, err := c.GetDatabase(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return m.emit(d, func(w *tabwriter.Writer) { printDatabase(w, d) })
			},
		},
		&cobra.Command{
			Use: "drop NAME", Short: "Drop a database and delete its files", Args: exactArgs(1, "a database name"),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := m.client(cmd)
				if err != nil {
					return err
				}
				if err := c.DropDatabase(cmd.Context(), args[0]); err != nil {
					return err
				}
				return m.emit(map[string]string{"dropped": args[0]}, func(w *tabwriter.Writer) { fmt.Fprintf(w, "Dropped database %s.\n", args[0]) })
			},
		},
		&cobra.Command{
			Use: "complete-restore NAME", Short: "Bring a database restored with --restoring online", Args: exactArgs(1, "a database name"),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := m.client(cmd)
				if err != nil {
					return err
				}
				d, err := c.CompleteRestore(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return m.emit(d, func(w *tabwriter.Writer) { fmt.Fprintf(w, "Database %s is %s.\n", d.Name, d.State) })
			},
		},
	)
	return cmd
}

func printDatabase(w *tabwriter.Writer, d adminapi.DatabaseInfo) {
	fmt.Fprintf(w, "Name:\t%s\n", d.Name)
	fmt.Fprintf(w, "State:\t%s\n", d.State)
	ro := "no"
	if d.ReadOnly {
		ro = "yes (" + d.ReadOnlyReason + ")"
	}
	fmt.Fprintf(w, "Read-only:\t%s\n", ro)
	if d.CaptureError != "" {
		fmt.Fprintf(w, "Capture:\tSTOPPED, writes fail: %s\n", d.CaptureError)
	}
	if g := d.Gap; g != nil {
		fmt.Fprintf(w, "History gap:\tat LSN %d, found %s: %s (changes made outside sqlink; replicas from before it reseed, backups chain from the next full backup)\n", g.LSN, ts(g.Time), g.Why)
	}
	if d := d.Diverged; d != nil {
		fmt.Fprintf(w, "Diverged:\tat redone LSN %d, found %s: %s (nothing more is applied; the link reseeds this copy)\n", d.LSN, ts(d.Time), d.Why)
	}
	fmt.Fprintf(w, "LSN:\t%d\n", d.Pos.LSN)
	fmt.Fprintf(w, "Position:\t%s\n", d.Pos)
	fmt.Fprintf(w, "Epoch:\t%d\n", d.Epoch)
	fmt.Fprintf(w, "Size:\t%s (%d pages of %d bytes)\n", bytesHuman(d.SizeBytes), d.PageCount, d.PageSize)
	if d.LogFirstLSN > d.Pos.LSN {
		fmt.Fprintf(w, "Log:\t%s (empty)\n", bytesHuman(d.LogBytes))
	} else if d.LogFirstLSN > 0 {
		fmt.Fprintf(w, "Log:\t%s (LSN %d to %d)\n", bytesHuman(d.LogBytes), d.LogFirstLSN, d.Pos.LSN)
	}
	fmt.Fprintf(w, "Created:\t%s\n", ts(d.CreatedAt))
	chain := "no (take a full backup: sqlink backup " + d.Name + " --to FILE)"
	if d.State == sqlink.DatabaseRestoring {
		// Not readable, so not backed up either: say what comes first.
		chain = "no (RESTORING: it can be backed up once online)"
	}
	if d.ChainStarted {
		chain = "yes"
	}
	fmt.Fprintf(w, "Backup chain started:\t%s\n", chain)
	if len(d.Backups) > 0 {
		fmt.Fprintf(w, "Backups:\n")
		fmt.Fprintf(w, "  ID\tLSN\tKIND\tSIZE\tTAKEN\n")
		for _, b := range d.Backups {
			kind := "full (starts chain)"
			if b.CopyOnly {
				kind = "copy-only"
			}
			fmt.Fprintf(w, "  %s\t%d\t%s\t%s\t%s\n", b.ID, b.LSN, kind, bytesHuman(b.Size), ts(b.CreatedAt))
		}
	}
}

func (m *Main) backupCommand() *cobra.Command {
	var (
		to       string
		copyOnly bool
		force    bool
	)
	cmd := &cobra.Command{
		Use:   "backup DB --to FILE [--copy-only] [--force]",
		Short: "Take a consistent online backup of a database",
		Long: `backup streams a consistent backup of the database to FILE while writes go
on. A full backup starts the database's backup chain (a link needs one);
--copy-only takes a backup that does not. It never replaces an existing
FILE unless --force is given; a backup that fails leaves no FILE behind.`,
		Args: exactArgs(1, "a database name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return errUsage(cmd, "no --to FILE given")
			}
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			if _, err := os.Lstat(to); err == nil && !force {
				return sqlink.Errorf(sqlink.ECONFLICT, "pick another --to file, or pass --force to replace it",
					"%s already exists", to)
			}
			var prog *progress
			if m.output == "json" || isTerminal(m.Stderr) {
				var total int64
				if d, err := c.GetDatabase(cmd.Context(), args[0]); err == nil {
					total = d.SizeBytes
				}
				prog = m.newProgress("backup", "bytes", total, m.Stderr)
			}
			info, err := writeBackup(to, force, func(f *os.File) (adminapi.BackupInfo, error) {
				if prog.enabled() {
					return c.Backup(cmd.Context(), args[0], copyOnly, progressWriter{f, prog})
				}
				return c.Backup(cmd.Context(), args[0], copyOnly, f)
			})
			prog.End(err)
			if err != nil {
				return err
			}
			return m.emit(info, func(w *tabwriter.Writer) {
				kind := "Full backup (starts the backup chain)"
				if info.CopyOnly {
					kind = "Copy-only backup"
				}
				fmt.Fprintf(w, "%s of %s at LSN %d written to %s (%s, %d pages, id %s).\n", kind, args[0], info.LSN, to, bytesHuman(info.Size), info.PageCount, info.ID)
			})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "file to write the backup to")
	cmd.Flags().BoolVar(&copyOnly, "copy-only", false, "do not start the backup chain")
	cmd.Flags().BoolVar(&force, "force", false, "replace FILE if it exists")
	return cmd
}

// writeBackup writes a backup through a temporary file in to's directory,
// synced and then renamed into place (and the directory synced), so that a
// backup that fails never leaves a truncated file under the name. Without
// force it never replaces a file that exists, even one created meanwhile.
func writeBackup(to string, force bool, backup func(*os.File) (adminapi.BackupInfo, error)) (adminapi.BackupInfo, error) {
	dir, base := filepath.Split(to)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.partial")
	if err != nil {
		return adminapi.BackupInfo{}, sqlink.Errorf(sqlink.EINVALID, "check the --to path", "create a file in %s: %v", dir, err)
	}
	tmp := f.Name()
	info, err := backup(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if force {
			err = os.Rename(tmp, to)
		} else if err = os.Link(tmp, to); errors.Is(err, os.ErrExist) {
			err = sqlink.Errorf(sqlink.ECONFLICT, "pick another --to file, or pass --force to replace it", "%s already exists", to)
		} else if err != nil {
			// No hard links here: rename, having checked just before.
			if _, serr := os.Lstat(to); serr == nil {
				err = sqlink.Errorf(sqlink.ECONFLICT, "pick another --to file, or pass --force to replace it", "%s already exists", to)
			} else {
				err = os.Rename(tmp, to)
			}
		}
	}
	os.Remove(tmp) // gone already when renamed; the extra name when linked
	if err != nil {
		return adminapi.BackupInfo{}, err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return info, nil
}

func (m *Main) restoreCommand() *cobra.Command {
	var (
		as        string
		restoring bool
	)
	cmd := &cobra.Command{
		Use:   "restore FILE --as NAME [--restoring]",
		Short: "Restore a backup as a new database",
		Long: `restore creates database NAME from a backup file, page-identical to the source
at the backup's LSN. --restoring leaves it RESTORING (not readable) so a link
can seed it from the backup; bring it online with "sqlink db complete-restore".`,
		Args: exactArgs(1, "a backup file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if as == "" {
				return errUsage(cmd, "no --as NAME given")
			}
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return openBackupError(args[0], err)
			}
			defer f.Close()
			var body io.Reader = f
			var size int64
			if st, err := f.Stat(); err == nil {
				size = st.Size()
			}
			prog := m.newProgress("restore", "bytes", size, m.Stderr)
			if prog.enabled() {
				body = progressReader{f, prog}
			}
			d, err := c.Restore(cmd.Context(), as, restoring, body)
			prog.End(err)
			if err != nil {
				return err
			}
			return m.emit(d, func(w *tabwriter.Writer) {
				lsn := d.Pos.LSN
				if d.RestoredFrom != nil {
					lsn = d.RestoredFrom.LSN
				}
				fmt.Fprintf(w, "Restored %s as %s at LSN %d; state %s.\n", args[0], d.Name, lsn, d.State)
			})
		},
	}
	cmd.Flags().StringVar(&as, "as", "", "name of the new database")
	cmd.Flags().BoolVar(&restoring, "restoring", false, "leave the database RESTORING (not readable) for seeding a link")
	return cmd
}

// openBackupError is the error for a backup file restore cannot open: one
// message naming the file once (os.Open's own error names it too).
func openBackupError(name string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return sqlink.Errorf(sqlink.ENOTFOUND, "check the path; `sqlink backup DB --to FILE` writes a backup file",
			"backup file %s does not exist", name)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return sqlink.Errorf(sqlink.EINVALID, "check the path and that this user may read the file", "cannot open backup file %s: %v", name, err)
}

// bytesHuman formats a byte count.
func bytesHuman(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
