package pgwire

import (
	"context"
	"database/sql/driver"
	"fmt"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/sqlink/sqlink"
)

// begin opens a transaction. A plain BEGIN is SQLite's deferred BEGIN: it
// takes no lock, its reads run on their own snapshot concurrently with the
// writer, and the database's write lock is taken only at its first write
// statement (executeSQL), as PostgreSQL's row locks are taken at the first
// write. BEGIN IMMEDIATE (or EXCLUSIVE) takes the write lock at once, so
// the transaction can never get 40001 when it writes. READ ONLY, and any
// BEGIN on a read-only secondary, runs with query_only.
func (c *clientConn) begin(ctx context.Context, readOnly, immediate bool) error {
	if c.tx != txIdle {
		c.send(&pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: codeActiveTx, Message: "there is already a transaction in progress"})
		return nil
	}
	ro, _ := c.sess.ReadOnly()
	if !readOnly && !immediate && !ro {
		if err := c.execDirect(ctx, "BEGIN"); err != nil {
			return err
		}
		c.tx = txActive
		return nil
	}
	if !readOnly {
		err := c.beginWrite()
		switch {
		case err == nil:
			if err := c.execDirect(ctx, "BEGIN IMMEDIATE"); err != nil {
				_ = c.endWrite(context.WithoutCancel(ctx))
				return err
			}
			c.tx, c.txWrite = txActive, true
			return nil
		case sqlink.ErrorCode(err) == sqlink.EREADONLY:
			c.txROErr = err
		default:
			return err
		}
	}
	if err := c.execDirect(ctx, "BEGIN"); err != nil {
		c.txROErr = nil
		return err
	}
	if err := c.setQueryOnly(ctx, true); err != nil {
		_ = c.execDirect(context.WithoutCancel(ctx), "ROLLBACK")
		c.txROErr = nil
		return err
	}
	c.tx, c.txQueryOnly = txActive, true
	return nil
}

// finishTx commits or rolls back the open transaction and releases the
// write lock. The transaction is over whatever happens.
func (c *clientConn) finishTx(ctx context.Context, commit bool) error {
	var err error
	bg := context.WithoutCancel(ctx)
	if commit {
		err = c.execDirect(ctx, "COMMIT")
		if err != nil {
			_ = c.execDirect(bg, "ROLLBACK")
		}
	} else {
		// The transaction may already be gone (SQLite rolls back by itself
		// after some errors): ignore that.
		_ = c.execDirect(bg, "ROLLBACK")
	}
	if c.txQueryOnly {
		if e := c.setQueryOnly(bg, false); e != nil && err == nil {
			err = e
		}
	}
	if c.txWrite {
		err = c.endWriteError(err, c.endWrite(bg))
	}
	c.tx, c.txWrite, c.txQueryOnly, c.txROErr = txIdle, false, false, nil
	c.closePortals()
	c.closeCursors(false)
	return err
}

// ctlStatement reports whether execDirect keeps q prepared.
func ctlStatement(q string) bool {
	switch q {
	case "BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK":
		return true
	}
	return false
}

// ctlStmt returns the session's prepared q, preparing it the first time.
// Called inside Conn.Raw; closeCtlStmts closes them.
func (c *clientConn) ctlStmt(ctx context.Context, dc any, q string) (driver.Stmt, error) {
	if s := c.ctl[q]; s != nil {
		return s, nil
	}
	pc, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, fmt.Errorf("driver connection %T cannot prepare", dc)
	}
	s, err := pc.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if c.ctl == nil {
		c.ctl = make(map[string]driver.Stmt, 4)
	}
	c.ctl[q] = s
	return s, nil
}

// closeCtlStmts closes the prepared transaction-control statements; inside
// Conn.Raw.
func (c *clientConn) closeCtlStmts() {
	for q, s := range c.ctl {
		_ = s.Close()
		delete(c.ctl, q)
	}
}

// txFirstWrite takes the write lock at the first write of a plain BEGIN's
// transaction (lock_timeout applies); SQLite then upgrades the
// transaction, or refuses with SQLITE_BUSY_SNAPSHOT (40001) when its
// snapshot is older than the last commit. finishTx releases it. Outside
// such a transaction it does nothing.
func (c *clientConn) txFirstWrite(verb string) error {
	if c.tx != txActive || c.txWrite || c.txQueryOnly {
		return nil
	}
	if err := c.beginWrite(); err != nil {
		return c.readOnlyError(verb, err)
	}
	c.txWrite = true
	return nil
}
