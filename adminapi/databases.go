package adminapi

import (
	"io"
	"net/http"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/catalog"
)

func (s *server) listDatabases(w http.ResponseWriter, r *http.Request) error {
	dbs, err := s.inst.ListDatabases(r.Context())
	if err != nil {
		return err
	}
	if dbs == nil {
		dbs = []DatabaseInfo{}
	}
	WriteJSON(w, http.StatusOK, dbs)
	return nil
}

func (s *server) createDatabase(w http.ResponseWriter, r *http.Request) error {
	var req CreateDatabaseRequest
	if err := DecodeJSON(r, &req); err != nil {
		return err
	}
	SetAuditTarget(r, req.Name)
	if err := catalog.ValidateName("database", req.Name); err != nil {
		return err
	}
	db, err := s.inst.CreateDatabase(r.Context(), req.Name)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusCreated, db)
	return nil
}

func (s *server) getDatabase(w http.ResponseWriter, r *http.Request) error {
	db, err := s.inst.GetDatabase(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, db)
	return nil
}

func (s *server) dropDatabase(w http.ResponseWriter, r *http.Request) error {
	if err := s.inst.DropDatabase(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Trailers of a backup stream. Exactly one is set when the stream ends.
const (
	// TrailerBackup carries the BackupInfo as JSON after a complete backup.
	TrailerBackup = "Sqlink-Backup"
	// TrailerError carries an ErrorBody as JSON when the backup failed
	// after the stream had started.
	TrailerError = "Sqlink-Error"
)

// backupWriter starts the octet-stream response at the first write, so an
// error before that can still be a normal JSON error response.
type backupWriter struct {
	w       http.ResponseWriter
	name    string
	started bool
}

func (b *backupWriter) start() {
	if b.started {
		return
	}
	b.started = true
	h := b.w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="`+b.name+`.backup"`)
	h.Set("Trailer", TrailerBackup+", "+TrailerError)
	b.w.WriteHeader(http.StatusOK)
}

func (b *backupWriter) Write(p []byte) (int, error) {
	b.start()
	return b.w.Write(p)
}

// backup streams a full backup. Its summary, or the error that cut it
// short, arrives in a trailer.
func (s *server) backup(w http.ResponseWriter, r *http.Request) error {
	copyOnly, err := queryBool(r, "copy_only")
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	bw := &backupWriter{w: w, name: name}
	info, err := s.inst.Backup(r.Context(), name, copyOnly, bw)
	if err != nil {
		if bw.started {
			w.Header().Set(TrailerError, encodeHeader(errorBody(err)))
		}
		return err
	}
	bw.start()
	w.Header().Set(TrailerBackup, encodeHeader(info))
	SetAuditDetail(r, "backup "+info.ID+" at LSN "+info.LSN.String())
	return nil
}

func (s *server) listBackups(w http.ResponseWriter, r *http.Request) error {
	recs, err := s.cat.ListBackups(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	out := make([]BackupInfo, 0, len(recs))
	for _, b := range recs {
		out = append(out, BackupInfoFromRecord(b))
	}
	WriteJSON(w, http.StatusOK, out)
	return nil
}

// restore creates a database from the backup file in the request body.
func (s *server) restore(w http.ResponseWriter, r *http.Request) error {
	restoring, err := queryBool(r, "restoring")
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	if err := catalog.ValidateName("database", name); err != nil {
		return err
	}
	db, err := s.inst.Restore(r.Context(), name, restoring, r.Body)
	if err != nil {
		return err
	}
	// Drain what the instance did not read, so the connection is reusable.
	io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	WriteJSON(w, http.StatusCreated, db)
	return nil
}

func (s *server) restoreDetails(w http.ResponseWriter, r *http.Request) error {
	db, err := s.inst.GetDatabase(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, RestoreDetails{
		Database:     db.Name,
		State:        db.State,
		Restoring:    db.State == sqlink.DatabaseRestoring,
		Pos:          db.Pos,
		RestoredFrom: db.RestoredFrom,
	})
	return nil
}

func (s *server) completeRestore(w http.ResponseWriter, r *http.Request) error {
	db, err := s.inst.CompleteRestore(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, db)
	return nil
}
