package sqlink

// Role is a replica's role in a link.
type Role string

// Roles. A replica is RoleResolving while a role change is in progress or
// its role is unknown (SQL Server's RESOLVING).
const (
	RolePrimary   Role = "PRIMARY"
	RoleSecondary Role = "SECONDARY"
	RoleResolving Role = "RESOLVING"
)

// SyncState is a database replica's synchronization state (SPEC section 5).
type SyncState string

// Synchronization states, as in sys.dm_hadr_database_replica_states.
const (
	NotSynchronizing SyncState = "NOT_SYNCHRONIZING"
	Synchronizing    SyncState = "SYNCHRONIZING"
	Synchronized     SyncState = "SYNCHRONIZED"
	Reverting        SyncState = "REVERTING"
	Initializing     SyncState = "INITIALIZING"
)

// DatabaseState is whether a database can be read and written.
type DatabaseState string

// Database states. A RESTORING database cannot be read; an ONLINE one can,
// read-only when it is a link's secondary.
const (
	DatabaseOnline    DatabaseState = "ONLINE"
	DatabaseRestoring DatabaseState = "RESTORING"
)

// Mode is a link's availability mode.
type Mode string

// Link modes: async commits do not wait for the secondary, sync commits
// return only after the secondary hardened the record.
const (
	ModeAsync Mode = "async"
	ModeSync  Mode = "sync"
)
