package rbac

// Missing returns the permissions of want that none of roles grants, in
// want's order without duplicates. A caller may only hand out what it
// holds: adminapi refuses to grant roles, create roles or tokens, or change
// principals carrying permissions Missing reports.
func Missing(roles []Role, want []Permission) []Permission {
	var out []Permission
	seen := map[Permission]bool{}
	for _, p := range want {
		if seen[p] {
			continue
		}
		seen[p] = true
		held := false
		for _, r := range roles {
			if r.Has(p) {
				held = true
				break
			}
		}
		if !held {
			out = append(out, p)
		}
	}
	return out
}
