// Package linkcreate is the saga that creates a link between two
// instances through their admin APIs: `sqlink link create`, the demo and
// a web console share it.
//
// Creator.Create runs four steps, reporting each as it starts and ends
// (Creator.Progress):
//
//  1. sign-in: both instances answer, serve the link API, are two
//     different instances of the same major version and collation;
//  2. validate: each database is ONLINE with a full backup on the primary
//     and absent (or RESTORING, with Options.SeedFromBackup) on the
//     secondary, no link of the name exists, and each endpoint is
//     reachable by its partner;
//  3. certificates: each instance trusts the other's endpoint certificate
//     (one it already trusts is left as it is);
//  4. create: for each database, the secondary's half, then the
//     primary's, which starts seeding.
//
// Each change is recorded with its undo before it is made. When a step
// fails, Create undoes what this run did, in reverse order, and only that:
// a certificate already trusted, or a link of the same name with another
// link ID, is left alone. The error names the failed step, the cause, what
// was undone and what is left to do by hand.
//
// The saga talks to each instance through Client, a small interface that
// *adminapi.Client implements, so tests run it against fakes.
package linkcreate
