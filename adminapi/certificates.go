package adminapi

import (
	"net/http"

	"github.com/sqlink/sqlink"
)

func (s *server) endpointCertificate(w http.ResponseWriter, r *http.Request) error {
	c, err := s.inst.EndpointCertificate(r.Context())
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, c)
	return nil
}

func (s *server) rotateEndpointCertificate(w http.ResponseWriter, r *http.Request) error {
	rot, ok := s.inst.(CertificateRotator)
	if !ok {
		return sqlink.Errorf(sqlink.ENOTIMPLEMENTED, "this instance cannot rotate its certificate online; replace the files in the data directory and restart",
			"endpoint certificate rotation is not supported")
	}
	c, err := rot.RotateEndpointCertificate(r.Context())
	if err != nil {
		return err
	}
	SetAuditTarget(r, c.Fingerprint)
	WriteJSON(w, http.StatusOK, c)
	return nil
}

func (s *server) listTrustedCertificates(w http.ResponseWriter, r *http.Request) error {
	cs, err := s.cat.ListTrustedCertificates(r.Context())
	if err != nil {
		return err
	}
	out := make([]CertificateInfo, 0, len(cs))
	for _, c := range cs {
		out = append(out, trustedCertInfo(c))
	}
	WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) getTrustedCertificate(w http.ResponseWriter, r *http.Request) error {
	cs, err := s.cat.ListTrustedCertificates(r.Context())
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	for _, c := range cs {
		if c.Name == name {
			WriteJSON(w, http.StatusOK, trustedCertInfo(c))
			return nil
		}
	}
	return sqlink.Errorf(sqlink.ENOTFOUND, "list trusted certificates to see their names", "trusted certificate %q not found", name)
}

func (s *server) trustCertificate(w http.ResponseWriter, r *http.Request) error {
	var req TrustCertificateRequest
	if err := DecodeJSON(r, &req); err != nil {
		return err
	}
	SetAuditTarget(r, req.Name)
	c, err := s.cat.TrustCertificate(r.Context(), req.Name, []byte(req.PEM))
	if err != nil {
		return err
	}
	SetAuditDetail(r, "fingerprint "+c.Fingerprint)
	WriteJSON(w, http.StatusCreated, trustedCertInfo(c))
	return nil
}

func (s *server) untrustCertificate(w http.ResponseWriter, r *http.Request) error {
	if err := s.cat.UntrustCertificate(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
