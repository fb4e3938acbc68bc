package adminapi

import (
	"io"
	"net/http"
	"time"
)

// DefaultReadTimeout bounds reading a request's body: a JSON body must
// arrive within it, and a streamed upload (a restore) must not stall for
// longer between two reads. Headers and idle keep-alive connections are
// bounded by the http.Server (ReadHeaderTimeout, IdleTimeout).
const DefaultReadTimeout = 30 * time.Second

// withReadDeadline bounds the reading of every request body: a client
// trickling one, or announcing one it never sends, is cut off. The
// http.Server's own ReadTimeout cannot do it: it would cut long restore
// uploads. The deadline is lifted once the body has been read, so that it
// does not end long responses (a backup download, a failover) through the
// server's background read of the connection.
func withReadDeadline(h http.Handler, d time.Duration) http.Handler {
	if d <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			if rc.SetReadDeadline(time.Now().Add(d)) == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline when the body has been read to its
// end. After any other error (a timeout) the deadline stays, so that the
// server's reads of the rest fail at once and the connection is closed.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// progressBody moves the read deadline forward at every read of a
// streamed body, so that an upload may take as long as it needs as long as
// it keeps sending.
type progressBody struct {
	io.ReadCloser
	rc *http.ResponseController
	d  time.Duration
}

func (b *progressBody) Read(p []byte) (int, error) {
	_ = b.rc.SetReadDeadline(time.Now().Add(b.d))
	return b.ReadCloser.Read(p)
}
