package console

import (
	"net/http"
	"strings"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/guide"
	"github.com/sqlink/sqlink/linkcreate"
	"github.com/sqlink/sqlink/rbac"
)

// The wizards' Script: the bash script of the non-interactive commands
// that do what the wizard was told, made by the same generator as the
// CLI's --script (guide.CreateScript, guide.FailoverScript). Tokens appear
// only as environment variable names, never their values.

// scriptSource marks the console's Scripts.
var scriptSource = guide.ScriptSource{By: "the sqlink console"}

// CreateScript returns the script of `sqlink link create` with these
// options between the instances at primaryURL and secondaryURL, each
// certificate pinned by its fingerprint when given.
func CreateScript(primaryURL, primaryFingerprint, secondaryURL, secondaryFingerprint string, o linkcreate.Options) string {
	return guide.CreateScript(guide.CreateScriptOptions{ScriptSource: scriptSource,
		Name: o.Name, Databases: strings.Join(o.Databases, ","),
		Primary: primaryURL, Secondary: secondaryURL, PrimaryFingerprint: primaryFingerprint, SecondaryFingerprint: secondaryFingerprint,
		Mode: string(o.Mode), TwoWay: o.TwoWay, SeedFromBackup: o.SeedFromBackup,
		PrimaryEndpoint: o.PrimaryEndpoint, SecondaryEndpoint: o.SecondaryEndpoint})
}

// FailoverRequest is the Failover wizard's answers, for its Script.
type FailoverRequest struct {
	Link     string `json:"link"`
	Type     string `json:"type"` // planned or forced
	DropLink bool   `json:"drop_link"`
}

// FailoverScript returns the script of `sqlink link failover` run
// against the instance at serverURL (its certificate pinned by
// fingerprint, when given).
func FailoverScript(serverURL, fingerprint string, f FailoverRequest) string {
	forced := f.Type == "forced"
	return guide.FailoverScript(guide.FailoverScriptOptions{ScriptSource: scriptSource,
		Link: f.Link, Server: serverURL, Fingerprint: fingerprint,
		Force: forced, AllowDataLoss: forced, DropLink: f.DropLink})
}

// failoverScript serves POST /console/api/script/failover.
func (c *Console) failoverScript(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeErr(w, http.StatusMethodNotAllowed, sqlink.EINVALID, "use POST", "use the console's pages")
		return
	}
	if _, _, ok := c.authorize(w, r, rbac.LinksRead); !ok {
		return
	}
	var f FailoverRequest
	if !decode(w, r, &f) {
		return
	}
	if f.Link == "" {
		writeErr(w, http.StatusBadRequest, sqlink.EINVALID, "no link given", "choose a link")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"script": FailoverScript(selfURL(r), c.fingerprint(r), f), "file": "failover-" + f.Link + ".sh"})
}
