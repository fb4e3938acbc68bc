// Package storage keeps sqlink's databases: SQLite files in WAL mode whose
// committed transactions are captured, as page images, into a replication
// log.
//
// # Write lock
//
// Each DB has one Go-level write lock. A session calls Conn.BeginWrite
// before BEGIN IMMEDIATE or an autocommit write statement and Conn.EndWrite
// after COMMIT or ROLLBACK. Waiting writers queue on a channel and wake as
// soon as the lock is free, instead of sleeping in SQLite's busy handler,
// so there is no spurious SQLITE_BUSY under contention; busy_timeout is
// only a backstop. Readers run concurrently on their own connections.
//
// # Capture and LSNs
//
// Every connection has wal_autocheckpoint=0, so frames stay in the -wal
// file until we checkpoint. Capture reads the frames appended since the
// last captured position, validates the header, the salts and the
// cumulative checksums, groups frames up to each commit frame (last image
// of a page wins, pages beyond the new size are dropped) and stops at the
// first invalid frame, never taking frames after the last commit frame
// (rolled-back transactions leave such frames). Each commit becomes one
// Record with the next LSN, the current epoch, its commit time, the new
// database size and an XXH64 checksum; Pos.Checksum chains the records' checksums,
// so equal positions mean equal histories. EndWrite captures; a background
// loop also captures every PollInterval, so a write that bypassed
// BeginWrite is still logged.
//
// # Group commit
//
// With Synchronous FULL, SQLite commits at NORMAL (no sync in COMMIT);
// EndWrite notes the WAL's end, releases the write lock and waits for one
// sync goroutine to fdatasync the WAL over that end and capture up to it,
// for every commit waiting (a batch). Captures never read past the
// durable WAL. Replies to clients wait at an output gate (DB.WaitOutput)
// until every commit begun before them is durable. See groupcommit.go.
//
// # Log and checkpoints
//
// Records are appended to segment files in path+"-log" without an fsync per
// commit: the WAL already holds every committed page (a secondary, whose
// log is the durable copy, fsyncs it for every group it hardens). The
// active segment's file reaches up to 1 MiB past its last entry in zeros
// written ahead, so those fsyncs flush data only, not the file system's
// journal; a zero length field ends a segment for every reader, and a
// segment is cut to its entries when it closes or the log reopens. A
// checkpoint runs
// only through the capture path, under the write lock: capture everything,
// fsync the log, then PRAGMA wal_checkpoint(PASSIVE), then prune segments
// beyond LogRetentionBytes (never after a retention floor). The background
// checkpoint first copies the bulk of the WAL without the write lock; a
// read transaction held from before that pass until the lock is taken
// again keeps writers from restarting the WAL in between, should the pass
// copy all of it (a restart needs no reader in the WAL). One connection
// stays open for the DB's lifetime so SQLite never checkpoints and deletes
// the WAL on last close. A WAL restart that we did not announce (new salts
// while frames we had not captured could have been there) stops capture
// with an error rather than leaving a silent gap.
//
// # Recovery
//
// Each log entry also stores, locally, the WAL position just after its
// commit frame. After a crash OpenDB resumes capture at the last logged
// entry's WAL position (or at the start of a newer WAL generation, which
// can only exist after a checkpoint that synced the log), so LSNs continue
// without gaps or duplicates. A torn log tail is truncated on open.
//
// # Backups and replicas
//
// Backup streams a consistent page copy of a read snapshot taken at a
// captured position; Restore writes it back with log metadata so LSNs
// continue from the backup's position. Replicas apply records through
// sqlite_dbpage (see Apply).
package storage
