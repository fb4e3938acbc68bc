package cli

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/sqlink/sqlink"
)

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (m *Main) tokenCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Create, list and revoke admin API tokens"}
	var principal, description string
	create := &cobra.Command{
		Use: "create --principal NAME", Short: "Create a token (the secret is shown once)", Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if principal == "" {
				return errUsage(cmd, "no --principal given")
			}
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			res, err := c.CreateToken(cmd.Context(), principal, description)
			if err != nil {
				return err
			}
			out := map[string]any{"id": res.Token.ID, "principal": res.Token.Principal, "secret": res.Secret, "created_at": res.Token.CreatedAt}
			return m.emit(out, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "Token %s for %s (shown only once):\n%s\n", res.Token.ID, res.Token.Principal, res.Secret)
			})
		},
	}
	create.Flags().StringVar(&principal, "principal", "", "principal the token acts as")
	create.Flags().StringVar(&description, "description", "", "what the token is for")
	var listPrincipal string
	list := &cobra.Command{
		Use: "list", Short: "List tokens", Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			toks, err := c.ListTokens(cmd.Context(), listPrincipal)
			if err != nil {
				return err
			}
			return m.emit(toks, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "ID\tPRINCIPAL\tPREFIX\tCREATED\tREVOKED\tDESCRIPTION")
				for _, t := range toks {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Principal, t.Prefix, ts(t.CreatedAt), ts(t.RevokedAt), orDash(t.Description))
				}
			})
		},
	}
	list.Flags().StringVar(&listPrincipal, "principal", "", "only this principal's tokens")
	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke a token; it stops working at once", Args: exactArgs(1, "a token id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			if err := c.RevokeToken(cmd.Context(), args[0]); err != nil {
				return err
			}
			return m.emit(map[string]string{"revoked": args[0]}, func(w *tabwriter.Writer) { fmt.Fprintf(w, "Revoked token %s.\n", args[0]) })
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func (m *Main) principalCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "principal", Short: "Manage admin API principals and their roles"}
	var roles string
	create := &cobra.Command{
		Use: "create NAME --roles R1,R2", Short: "Create a principal", Args: exactArgs(1, "a principal name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			p, err := c.CreatePrincipal(cmd.Context(), args[0], splitList(roles))
			if err != nil {
				return err
			}
			return m.emit(p, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "Created principal %s with roles %s.\n", p.Name, strings.Join(p.Roles, ", "))
			})
		},
	}
	create.Flags().StringVar(&roles, "roles", "", "comma-separated roles")
	var setRoles string
	set := &cobra.Command{
		Use: "set-roles NAME --roles R1,R2", Short: "Replace a principal's roles", Args: exactArgs(1, "a principal name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			p, err := c.SetPrincipalRoles(cmd.Context(), args[0], splitList(setRoles))
			if err != nil {
				return err
			}
			return m.emit(p, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "%s now has roles %s.\n", p.Name, strings.Join(p.Roles, ", "))
			})
		},
	}
	set.Flags().StringVar(&setRoles, "roles", "", "comma-separated roles")
	list := &cobra.Command{
		Use: "list", Short: "List principals", Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			ps, err := c.ListPrincipals(cmd.Context())
			if err != nil {
				return err
			}
			return m.emit(ps, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "NAME\tROLES\tCREATED")
				for _, p := range ps {
					fmt.Fprintf(w, "%s\t%s\t%s\n", p.Name, strings.Join(p.Roles, ","), ts(p.CreatedAt))
				}
			})
		},
	}
	drop := &cobra.Command{
		Use: "drop NAME", Short: "Drop a principal and its tokens", Args: exactArgs(1, "a principal name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			if err := c.DropPrincipal(cmd.Context(), args[0]); err != nil {
				return err
			}
			return m.emit(map[string]string{"dropped": args[0]}, func(w *tabwriter.Writer) { fmt.Fprintf(w, "Dropped principal %s.\n", args[0]) })
		},
	}
	cmd.AddCommand(create, set, list, drop)
	return cmd
}

func (m *Main) roleCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "role", Short: "Manage roles: named sets of admin API permissions"}
	var perms string
	create := &cobra.Command{
		Use: "create NAME --permissions P1,P2", Short: "Create a custom role", Args: exactArgs(1, "a role name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			r, err := c.CreateRole(cmd.Context(), args[0], splitList(perms))
			if err != nil {
				return err
			}
			return m.emit(r, func(w *tabwriter.Writer) { fmt.Fprintf(w, "Created role %s.\n", r.Name) })
		},
	}
	create.Flags().StringVar(&perms, "permissions", "", "comma-separated permissions (see `sqlink role permissions`)")
	list := &cobra.Command{
		Use: "list", Short: "List roles", Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			rs, err := c.ListRoles(cmd.Context())
			if err != nil {
				return err
			}
			return m.emit(rs, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "NAME\tBUILT-IN\tPERMISSIONS")
				for _, r := range rs {
					ps := make([]string, len(r.Permissions))
					for i, p := range r.Permissions {
						ps[i] = string(p)
					}
					fmt.Fprintf(w, "%s\t%v\t%s\n", r.Name, r.Builtin, strings.Join(ps, ","))
				}
			})
		},
	}
	drop := &cobra.Command{
		Use: "drop NAME", Short: "Drop a custom role", Args: exactArgs(1, "a role name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			if err := c.DropRole(cmd.Context(), args[0]); err != nil {
				return err
			}
			return m.emit(map[string]string{"dropped": args[0]}, func(w *tabwriter.Writer) { fmt.Fprintf(w, "Dropped role %s.\n", args[0]) })
		},
	}
	perm := &cobra.Command{
		Use: "permissions", Short: "List every permission", Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			ps, err := c.Permissions(cmd.Context())
			if err != nil {
				return err
			}
			return m.emit(ps, func(w *tabwriter.Writer) {
				for _, p := range ps {
					fmt.Fprintln(w, p)
				}
			})
		},
	}
	cmd.AddCommand(create, list, drop, perm)
	return cmd
}

func (m *Main) certCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "cert", Short: "Show this instance's endpoint certificate and manage trusted peer certificates"}
	var pemOnly bool
	show := &cobra.Command{
		Use: "show", Short: "Show the endpoint certificate", Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			ci, err := c.EndpointCertificate(cmd.Context())
			if err != nil {
				return err
			}
			if pemOnly {
				_, err := fmt.Fprint(m.Stdout, ci.PEM)
				return err
			}
			return m.emit(ci, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "Subject:\t%s\nFingerprint:\t%s\nValid:\t%s to %s\n\n%s", ci.Subject, ci.Fingerprint, ts(ci.NotBefore), ts(ci.NotAfter), ci.PEM)
			})
		},
	}
	show.Flags().BoolVar(&pemOnly, "pem", false, "print only the PEM")
	var rotatePEM bool
	rotate := &cobra.Command{
		Use: "rotate", Short: "Replace the endpoint certificate with a new one (peers must then trust it)", Args: exactArgs(0, "no arguments"),
		Long: `Replace this instance's endpoint certificate and key with new ones, valid
for a year. New link connections present the new certificate at once; links
already connected go on with the old one until they reconnect. Trust the new
one on every partner instance right away (sqlink cert trust NAME FILE there,
with a new name; untrust the old name afterwards), or its links stop at their
next reconnection with "untrusted certificate" as their last error.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			ci, err := c.RotateEndpointCertificate(cmd.Context())
			if err != nil {
				return err
			}
			if rotatePEM {
				_, err := fmt.Fprint(m.Stdout, ci.PEM)
				return err
			}
			return m.emit(ci, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "Rotated. New certificate:\nSubject:\t%s\nFingerprint:\t%s\nValid:\t%s to %s\n\n%s\n", ci.Subject, ci.Fingerprint, ts(ci.NotBefore), ts(ci.NotAfter), ci.PEM)
				fmt.Fprintf(w, "Trust it on every partner now: save the PEM above to a file, then there run\n  sqlink cert trust NAME FILE   (a new NAME; untrust the old one afterwards)\n")
			})
		},
	}
	rotate.Flags().BoolVar(&rotatePEM, "pem", false, "print only the new certificate's PEM")
	trust := &cobra.Command{
		Use: "trust NAME FILE", Short: "Trust a peer instance's endpoint certificate (PEM file)", Args: exactArgs(2, "a name and a PEM file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pem, err := os.ReadFile(args[1])
			if err != nil {
				return sqlink.Errorf(sqlink.EINVALID, "get the peer's certificate with `sqlink cert show --pem` there", "read %s: %v", args[1], err)
			}
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			ci, err := c.TrustCertificate(cmd.Context(), args[0], pem)
			if err != nil {
				return err
			}
			return m.emit(ci, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "Trusted %s (%s, %s, valid until %s).\n", ci.Name, ci.Subject, ci.Fingerprint, ts(ci.NotAfter))
			})
		},
	}
	untrust := &cobra.Command{
		Use: "untrust NAME", Short: "Stop trusting a peer certificate", Args: exactArgs(1, "a name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			if err := c.UntrustCertificate(cmd.Context(), args[0]); err != nil {
				return err
			}
			return m.emit(map[string]string{"untrusted": args[0]}, func(w *tabwriter.Writer) { fmt.Fprintf(w, "No longer trusting %s.\n", args[0]) })
		},
	}
	list := &cobra.Command{
		Use: "list", Short: "List trusted peer certificates", Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			cs, err := c.ListTrustedCertificates(cmd.Context())
			if err != nil {
				return err
			}
			return m.emit(cs, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "NAME\tSUBJECT\tFINGERPRINT\tEXPIRES")
				for _, ci := range cs {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", ci.Name, ci.Subject, ci.Fingerprint, ts(ci.NotAfter))
				}
			})
		},
	}
	cmd.AddCommand(show, rotate, trust, untrust, list)
	return cmd
}

func (m *Main) auditCommand() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use: "audit", Short: "Show the admin audit log, newest first", Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			es, err := c.Audit(cmd.Context(), limit)
			if err != nil {
				return err
			}
			return m.emit(es, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "TIME\tPRINCIPAL\tACTION\tTARGET\tRESULT")
				for _, e := range es {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", ts(e.Time), orDash(e.Principal), e.Action, orDash(e.Target), e.Result)
				}
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "entries to show")
	return cmd
}

func (m *Main) instanceCommand() *cobra.Command {
	// "sqlink instance" alone shows the instance too, as "instance show".
	show := func(cmd *cobra.Command, args []string) error {
		c, err := m.client(cmd)
		if err != nil {
			return err
		}
		info, err := c.Info(cmd.Context())
		if err != nil {
			return err
		}
		return m.emit(info, func(w *tabwriter.Writer) {
			fmt.Fprintf(w, "Name:\t%s\nID:\t%s\nVersion:\t%s\nCollation:\t%s\nClient:\t%s\nAdmin:\t%s\nEndpoint:\t%s\nStarted:\t%s\n",
				info.Name, info.ID, info.Version, info.Collation, info.ClientAddr, info.AdminAddr, info.EndpointAddr, ts(info.StartedAt))
		})
	}
	cmd := &cobra.Command{Use: "instance", Short: "Show the instance (same as instance show)", Args: exactArgs(0, "no arguments"), RunE: show}
	cmd.AddCommand(&cobra.Command{
		Use: "show", Short: "Show the instance's identity, addresses and uptime", Args: exactArgs(0, "no arguments"), RunE: show,
	})
	return cmd
}
