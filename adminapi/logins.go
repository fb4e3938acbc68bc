package adminapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/catalog"
)

// LoginRight is one of a SQL login's grants: a right (connect, read or
// write) on a database, or on every database when Database is "*".
type LoginRight struct {
	Database string        `json:"database"`
	Right    catalog.Right `json:"right"`
}

// GrantRequest is the body of PUT /v1/logins/{name}/rights/{database}.
type GrantRequest struct {
	Right catalog.Right `json:"right"`
}

func loginInfo(l catalog.Login) LoginInfo {
	out := LoginInfo{Name: l.Name, CreatedAt: l.CreatedAt, UpdatedAt: l.UpdatedAt, Rights: []LoginRight{}}
	for _, r := range l.Rights {
		out.Rights = append(out.Rights, LoginRight(r))
	}
	return out
}

// login returns one login as listed.
func (s *server) login(ctx context.Context, name string) (LoginInfo, error) {
	ls, err := s.cat.ListLogins(ctx)
	if err != nil {
		return LoginInfo{}, err
	}
	for _, l := range ls {
		if l.Name == name {
			return loginInfo(l), nil
		}
	}
	return LoginInfo{}, sqlink.Errorf(sqlink.ENOTFOUND, "list logins to see their names (sqlink login list)", "login %q not found", name)
}

func (s *server) getLogin(w http.ResponseWriter, r *http.Request) error {
	l, err := s.login(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, l)
	return nil
}

// grantRight sets the login's right on the database; it applies to the
// login's next sessions.
func (s *server) grantRight(w http.ResponseWriter, r *http.Request) error {
	var req GrantRequest
	if err := DecodeJSON(r, &req); err != nil {
		return err
	}
	name, db := r.PathValue("name"), r.PathValue("database")
	SetAuditTarget(r, name+" "+req.Right.String()+" on "+db)
	if err := s.cat.GrantRight(r.Context(), name, db, req.Right); err != nil {
		return err
	}
	l, err := s.login(r.Context(), name)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, l)
	return nil
}

// revokeRight takes ?right= (and the rights that include it) away from the
// login on the database; without ?right= every right there.
func (s *server) revokeRight(w http.ResponseWriter, r *http.Request) error {
	name, db := r.PathValue("name"), r.PathValue("database")
	right := catalog.RightNone
	if v := r.URL.Query().Get("right"); v != "" {
		var err error
		if right, err = catalog.ParseRight(v); err != nil {
			return err
		}
	}
	target := name + " on " + db
	if right != catalog.RightNone {
		target = name + " " + right.String() + " on " + db
	}
	SetAuditTarget(r, target)
	if _, err := s.cat.RevokeRight(r.Context(), name, db, right); err != nil {
		return err
	}
	l, err := s.login(r.Context(), name)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, l)
	return nil
}

// GetLogin returns one SQL login with its rights.
func (c *Client) GetLogin(ctx context.Context, name string) (LoginInfo, error) {
	var out LoginInfo
	err := c.Do(ctx, "GET", "/v1/logins/"+esc(name), nil, &out)
	return out, err
}

// GrantRight sets a SQL login's right on a database ("*": every database)
// and returns the login with its rights. It applies to the login's next
// sessions.
func (c *Client) GrantRight(ctx context.Context, login, database string, right catalog.Right) (LoginInfo, error) {
	var out LoginInfo
	err := c.Do(ctx, "PUT", "/v1/logins/"+esc(login)+"/rights/"+esc(database), GrantRequest{Right: right}, &out)
	return out, err
}

// RevokeRight takes right (and the rights that include it) away from a SQL
// login on a database; catalog.RightNone takes every right there. It
// returns the login with the rights it keeps.
func (c *Client) RevokeRight(ctx context.Context, login, database string, right catalog.Right) (LoginInfo, error) {
	path := "/v1/logins/" + esc(login) + "/rights/" + esc(database)
	if right != catalog.RightNone {
		path += "?right=" + url.QueryEscape(right.String())
	}
	var out LoginInfo
	err := c.Do(ctx, "DELETE", path, nil, &out)
	return out, err
}
