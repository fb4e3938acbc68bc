package guide

import (
	"fmt"
	"strings"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
)

// Check names, as they appear in the checks array.
const (
	CheckSignIn       = "sign in"
	CheckDistinct     = "distinct instances"
	CheckVersions     = "versions compatible"
	CheckCollations   = "server collations equal"
	CheckUserDatabase = "user database"
	CheckOnline       = "database online"
	CheckFullBackup   = "full backup"
	CheckSecondaryDB  = "database on the secondary"
	CheckLinkName     = "link name free"
	CheckNotLinked    = "not already linked"
	CheckEndpoint     = "endpoint reachable"
	CheckCertificate  = "certificate"
	CheckPermissions  = "permissions"
	CheckDisk         = "free disk"
	CheckLogCap       = "log cap"
	CheckInstanceHalf = "instance validation"
)

const (
	// CertExpiryWarning: a certificate expiring sooner warns, leaving a
	// month to rotate it and have the partner trust the new one.
	CertExpiryWarning = 30 * 24 * time.Hour
	// DiskHeadroomPercent and DiskHeadroomBytes are what seeding needs on
	// the secondary beyond the database's size: room for the WAL, the
	// replication log and the writes made while seeding.
	DiskHeadroomPercent = 20
	DiskHeadroomBytes   = 1 << 20
)

func pass(name, inst, format string, args ...any) adminapi.ValidationCheck {
	return adminapi.ValidationCheck{Name: name, Instance: inst, Status: adminapi.CheckPass, Message: fmt.Sprintf(format, args...)}
}

func warn(name, inst, hint, format string, args ...any) adminapi.ValidationCheck {
	return adminapi.ValidationCheck{Name: name, Instance: inst, Status: adminapi.CheckWarning, Message: fmt.Sprintf(format, args...), Hint: hint}
}

func fail(name, inst, hint, format string, args ...any) adminapi.ValidationCheck {
	return adminapi.ValidationCheck{Name: name, Instance: inst, Status: adminapi.CheckFail, Message: fmt.Sprintf(format, args...), Hint: hint}
}

// Failed returns the checks that failed.
func Failed(cs []adminapi.ValidationCheck) []adminapi.ValidationCheck {
	var out []adminapi.ValidationCheck
	for _, c := range cs {
		if c.Status == adminapi.CheckFail {
			out = append(out, c)
		}
	}
	return out
}

// Major returns a version's major number ("v1.4.2" -> "1").
func Major(v string) string {
	v = strings.TrimPrefix(v, "v")
	m, _, _ := strings.Cut(v, ".")
	return m
}

func minor(v string) string {
	v = strings.TrimPrefix(v, "v")
	_, rest, _ := strings.Cut(v, ".")
	m, _, _ := strings.Cut(rest, ".")
	return m
}

// Versions checks that the instances run compatible versions: the same
// major version; a two-way link, which may replicate the other way after a
// failover, warns when the minor versions differ.
func Versions(p, s adminapi.InstanceStatus, twoWay bool) adminapi.ValidationCheck {
	if Major(p.Version) != Major(s.Version) {
		return fail(CheckVersions, "", "upgrade one instance so both run the same major version",
			"versions are not compatible: primary %s runs %s, secondary %s runs %s", p.Name, p.Version, s.Name, s.Version)
	}
	if twoWay && minor(p.Version) != minor(s.Version) {
		return warn(CheckVersions, "", "upgrade the older instance before failing over, so either can be the primary",
			"two-way: primary %s runs %s and secondary %s runs %s; fail back to the older one is untested", p.Name, p.Version, s.Name, s.Version)
	}
	way := "one-way"
	if twoWay {
		way = "two-way"
	}
	return pass(CheckVersions, "", "primary %s runs %s, secondary %s runs %s: %s supported", p.Name, p.Version, s.Name, s.Version, way)
}

// Collations checks that the server collations are equal.
func Collations(p, s adminapi.InstanceStatus) adminapi.ValidationCheck {
	if p.Collation != s.Collation {
		return fail(CheckCollations, "", "link to an instance initialised with the same --collation (sqlink init --collation)",
			"server collations differ: primary %s uses %s, secondary %s uses %s", p.Name, p.Collation, s.Name, s.Collation)
	}
	return pass(CheckCollations, "", "both instances use collation %s", p.Collation)
}

// Distinct checks that primary and secondary are two instances.
func Distinct(p, s adminapi.InstanceStatus) adminapi.ValidationCheck {
	if p.ID == s.ID || p.Name == s.Name {
		return fail(CheckDistinct, "", "point --primary and --secondary at two different instances",
			"primary and secondary are the same instance name (%s): instance names must differ", p.Name)
	}
	return pass(CheckDistinct, "", "primary %s and secondary %s are two instances", p.Name, s.Name)
}

// systemDatabases are names that never denote a user database.
var systemDatabases = map[string]bool{"postgres": true, "template0": true, "template1": true, "catalog": true, "sqlink": true}

// UserDatabase checks that db names a user database.
func UserDatabase(inst, db string) adminapi.ValidationCheck {
	if systemDatabases[strings.ToLower(db)] {
		return fail(CheckUserDatabase, inst, "link a user database; script instance-level objects with `sqlink instance script` instead",
			"%s is a system database: only user databases can be linked", db)
	}
	return pass(CheckUserDatabase, inst, "%s is a user database", db)
}

// PrimaryDatabase checks the database on the primary: it exists, is ONLINE
// and writable. found is false when it does not exist.
func PrimaryDatabase(inst, db string, d adminapi.DatabaseInfo, found bool) adminapi.ValidationCheck {
	switch {
	case !found:
		return fail(CheckOnline, inst, "create it there first, or check the name with `sqlink db list --server <primary>`",
			"database %s does not exist on the primary %s", db, inst)
	case d.State != sqlink.DatabaseOnline:
		return fail(CheckOnline, inst, "bring it online first: sqlink db complete-restore "+db,
			"database %s on the primary %s is %s, not ONLINE", db, inst, d.State)
	case d.ReadOnly:
		return fail(CheckOnline, inst, "create the link from the database's primary instance",
			"database %s on %s is read-only (%s)", db, inst, d.ReadOnlyReason)
	}
	return pass(CheckOnline, inst, "database %s on %s is ONLINE and writable", db, inst)
}

// FullBackup checks that the database has a full backup that starts its
// chain.
func FullBackup(inst, db string, d adminapi.DatabaseInfo) adminapi.ValidationCheck {
	if !d.ChainStarted {
		copyOnly := false
		for _, b := range d.Backups {
			copyOnly = copyOnly || b.CopyOnly
		}
		msg := "database %s on the primary %s has no full backup that started its backup chain"
		if copyOnly {
			msg += " (copy-only backups do not start it)"
		}
		return fail(CheckFullBackup, inst, fmt.Sprintf("take a full backup: sqlink backup %s --to FILE --server <primary>", db), msg, db, inst)
	}
	return pass(CheckFullBackup, inst, "database %s has a full backup that starts its chain", db)
}

// SecondaryDatabase checks the database on the secondary: absent, or
// RESTORING from a backup with seedFromBackup.
func SecondaryDatabase(inst, db string, d adminapi.DatabaseInfo, found, seedFromBackup bool) adminapi.ValidationCheck {
	switch {
	case !found && seedFromBackup:
		return fail(CheckSecondaryDB, inst, fmt.Sprintf("restore a backup of %s there first: sqlink restore FILE --as %s --restoring --server <secondary>", db, db),
			"--seed-from-backup: database %s does not exist on the secondary %s", db, inst)
	case !found:
		return pass(CheckSecondaryDB, inst, "database %s does not exist on the secondary %s yet", db, inst)
	case seedFromBackup && d.State == sqlink.DatabaseRestoring:
		return pass(CheckSecondaryDB, inst, "database %s on %s is RESTORING from a backup, ready to seed from", db, inst)
	case seedFromBackup:
		return fail(CheckSecondaryDB, inst,
			fmt.Sprintf("restore the backup with --restoring (sqlink restore FILE --as %s --restoring), or drop %s there and seed without --seed-from-backup", db, db),
			"--seed-from-backup: database %s on the secondary %s is %s, not RESTORING", db, inst, d.State)
	case d.State == sqlink.DatabaseRestoring:
		return fail(CheckSecondaryDB, inst, "pass --seed-from-backup to seed from it, or drop it on the secondary",
			"database %s already exists on the secondary %s (RESTORING)", db, inst)
	}
	return fail(CheckSecondaryDB, inst, fmt.Sprintf("drop it there (sqlink db drop %s --server <secondary>) or link another database", db),
		"database %s already exists on the secondary %s", db, inst)
}

// LinkName checks that no link named name exists on the instance.
func LinkName(inst, role, name string, links []adminapi.LinkStatus) adminapi.ValidationCheck {
	role = strings.ToLower(role)
	for _, l := range links {
		if l.Name == name {
			return fail(CheckLinkName, inst, "pick another --name, or drop the old link with `sqlink link drop "+name+"`",
				"a link named %s already exists on the %s %s (database %s)", name, role, inst, l.Database)
		}
	}
	return pass(CheckLinkName, inst, "no link named %s on the %s %s", name, role, inst)
}

// NotLinked checks that the database is not already in a link in the same
// direction: on the primary it must not be a link's primary or secondary;
// on the secondary it must not be in any link.
func NotLinked(inst string, role sqlink.Role, db string, links []adminapi.LinkStatus) adminapi.ValidationCheck {
	for _, l := range links {
		if l.Database != db {
			continue
		}
		switch {
		case role == sqlink.RolePrimary && l.Local.Role == sqlink.RolePrimary:
			return fail(CheckNotLinked, inst, "drop that link first, or pick another database",
				"database %s is already the primary of link %s (to %s)", db, l.Name, l.Partner.Instance)
		case role == sqlink.RolePrimary:
			return fail(CheckNotLinked, inst, "create the link from the database's primary instance",
				"database %s on %s is the secondary of link %s", db, inst, l.Name)
		default:
			return fail(CheckNotLinked, inst, "drop that link first",
				"database %s on the secondary %s is already in link %s", db, inst, l.Name)
		}
	}
	return pass(CheckNotLinked, inst, "database %s is in no link on %s", db, inst)
}

// DiskNeeded returns the free disk seeding a database of size bytes needs:
// its size plus DiskHeadroomPercent and DiskHeadroomBytes.
func DiskNeeded(size int64) int64 {
	return size + size*DiskHeadroomPercent/100 + DiskHeadroomBytes
}

// Disk checks that the secondary has free disk for the databases it will
// receive (total bytes) plus headroom.
func Disk(inst string, free, total int64) adminapi.ValidationCheck {
	need := DiskNeeded(total)
	if free < need {
		return fail(CheckDisk, inst, "free space on the secondary's data volume, or move its data directory to a larger one",
			"the secondary %s has %s free, seeding needs %s (%s of data plus headroom)", inst, Bytes(free), Bytes(need), Bytes(total))
	}
	return pass(CheckDisk, inst, "the secondary %s has %s free, seeding needs %s", inst, Bytes(free), Bytes(need))
}

// LogCap warns when the log the primary keeps during seeding (writeRate
// bytes/s over the seeding time of size bytes at seedRate bytes/s) exceeds
// the log cap: the link would reseed before seeding ends.
func LogCap(inst string, size, writeRate, seedRate, capBytes int64) adminapi.ValidationCheck {
	if capBytes <= 0 || seedRate <= 0 {
		return pass(CheckLogCap, inst, "no log cap on %s", inst)
	}
	secs := float64(size) / float64(seedRate)
	need := int64(float64(writeRate) * secs)
	if need > capBytes {
		return warn(CheckLogCap, inst, "raise --link-log-cap on the primary, seed from a backup (--seed-from-backup) or seed when writes are fewer",
			"seeding %s takes about %s at %s/s; at the current %s/s of writes the primary keeps %s of log, over its cap of %s",
			Bytes(size), time.Duration(secs*float64(time.Second)).Round(time.Second), Bytes(seedRate), Bytes(writeRate), Bytes(need), Bytes(capBytes))
	}
	return pass(CheckLogCap, inst, "seeding keeps about %s of log on %s, under its cap of %s", Bytes(need), inst, Bytes(capBytes))
}

// Certificate checks an instance's endpoint certificate: not expired, not
// expiring within CertExpiryWarning, and either already trusted by the
// partner or trustable (link create trusts it).
func Certificate(inst, partner string, cert adminapi.CertificateInfo, trustedByPartner bool, now time.Time) adminapi.ValidationCheck {
	name := CheckCertificate
	switch {
	case cert.Fingerprint == "":
		return fail(name, inst, "check the instance's endpoint certificate files", "%s has no endpoint certificate", inst)
	case !cert.NotAfter.IsZero() && now.After(cert.NotAfter):
		return fail(name, inst, "rotate it there (POST /v1/endpoint-certificate/rotate) and validate again",
			"the endpoint certificate of %s expired on %s", inst, cert.NotAfter.UTC().Format(time.RFC3339))
	case !cert.NotBefore.IsZero() && now.Before(cert.NotBefore):
		return fail(name, inst, "check the clock of "+inst+", or rotate the certificate",
			"the endpoint certificate of %s is not valid before %s", inst, cert.NotBefore.UTC().Format(time.RFC3339))
	case !cert.NotAfter.IsZero() && cert.NotAfter.Sub(now) < CertExpiryWarning:
		return warn(name, inst, "rotate it soon (POST /v1/endpoint-certificate/rotate); the partner must trust the new one before the old expires",
			"the endpoint certificate of %s (SHA-256 %s) expires on %s", inst, cert.Fingerprint, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	how := "trustable: link create makes " + partner + " trust it"
	if trustedByPartner {
		how = "already trusted by " + partner
	}
	return pass(name, inst, "the endpoint certificate of %s (SHA-256 %s) is valid until %s, %s", inst, cert.Fingerprint, cert.NotAfter.UTC().Format("2006-01-02"), how)
}

// Bytes formats a byte count for people.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
