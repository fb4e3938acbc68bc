package console

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/guide"
	"github.com/sqlink/sqlink/rbac"
)

// verifyRequest signs in to the link's other instance for one
// verification; like the New Link wizard's, the token is used for this
// request only and kept nowhere.
type verifyRequest struct {
	URL         string `json:"url"`
	Token       string `json:"token"`
	Fingerprint string `json:"fingerprint"`
}

// verify serves POST /console/api/verify/{link}: `sqlink link verify`
// (package guide's engine) between this instance and the partner.
func (c *Console) verify(w http.ResponseWriter, r *http.Request, name string) {
	s, partner, u, ok := c.partnerPost(w, r, "verify with POST", "use the Verify button")
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	local := c.localClient(r, s)
	st, err := local.GetLink(ctx, name)
	if err != nil {
		writeError(w, err)
		return
	}
	var p, sc guide.Digester = local, partner
	pn, sn := st.Local.Instance, u
	if st.Local.Role != sqlink.RolePrimary {
		p, sc, pn, sn = partner, local, u, st.Local.Instance
	}
	res, err := guide.Verify(ctx, p, sc, name, guide.VerifyOptions{PrimaryName: pn, SecondaryName: sn,
		SwapHint: "open the console of the link's primary, or check the link's roles", TimeoutHint: "stop writes on the primary and verify again"})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// partnerClient reads a verifyRequest and returns a client of the other
// instance (and its URL); it writes the error itself.
// partnerPost checks a POST that reaches the other replica with the
// caller's own read permission, and returns the caller's session and a
// client of the other replica (its URL and token from the body, for this
// request only); msg and hint say how to send it when it is not a POST.
func (c *Console) partnerPost(w http.ResponseWriter, r *http.Request, msg, hint string) (*session, *adminapi.Client, string, bool) {
	if r.Method != http.MethodPost {
		writeErr(w, http.StatusMethodNotAllowed, sqlink.EINVALID, msg, hint)
		return nil, nil, "", false
	}
	s, _, ok := c.authorize(w, r, rbac.LinksRead)
	if !ok {
		return nil, nil, "", false
	}
	pc, u, ok := partnerClient(w, r)
	return s, pc, u, ok
}

func partnerClient(w http.ResponseWriter, r *http.Request) (*adminapi.Client, string, bool) {
	var req verifyRequest
	if !decode(w, r, &req) {
		return nil, "", false
	}
	u, token := withScheme(req.URL), strings.TrimSpace(req.Token)
	if u == "" || token == "" {
		writeErr(w, http.StatusBadRequest, sqlink.EINVALID, "no URL or token given for the other instance", "type the other instance's admin API URL and an admin token of it")
		return nil, "", false
	}
	if strings.HasPrefix(strings.ToLower(u), "http://") && !adminapi.IsLoopbackURL(u) {
		writeErr(w, http.StatusBadRequest, sqlink.EINVALID, "refusing to send the other instance's admin token in clear to "+u, "use https:// and give its TLS fingerprint")
		return nil, "", false
	}
	c, err := adminapi.NewClientTLS(u, token, adminapi.TLSOptions{Fingerprint: strings.TrimSpace(req.Fingerprint), FingerprintFlag: "the TLS fingerprint field"})
	if err != nil {
		writeError(w, err)
		return nil, "", false
	}
	return c.WithUnauthorizedHint("check the other instance's admin token"), u, true
}

// partner serves POST /console/api/partner/{link}: the Failover wizard's
// Sign in page checks the other replica once (its view of the link); the
// token is used for this request only.
func (c *Console) partner(w http.ResponseWriter, r *http.Request, name string) {
	s, pc, u, ok := c.partnerPost(w, r, "sign in with POST", "use the wizard's Sign in page")
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	st, err := c.localClient(r, s).GetLink(ctx, name)
	if err != nil {
		writeError(w, err)
		return
	}
	ps, err := pc.GetLink(ctx, name)
	if err != nil {
		writeError(w, &sqlink.Error{Code: sqlink.ErrorCode(err), Message: "other replica " + u + ": " + sqlink.ErrorMessage(err), Hint: sqlink.ErrorHint(err)})
		return
	}
	if ps.Local.Instance != st.Partner.Instance {
		writeErr(w, http.StatusBadRequest, sqlink.EINVALID, u+" is instance "+ps.Local.Instance+", not "+st.Partner.Instance+", the other replica of link "+name,
			"give "+st.Partner.Instance+"'s admin API URL")
		return
	}
	writeJSON(w, http.StatusOK, ps)
}
