// The schema, as numbered migrations embedded in the binary. PRAGMA user_version holds the
// number of the last one applied.
#ifndef OUTPOST_STORAGE_MIGRATIONS_H_
#define OUTPOST_STORAGE_MIGRATIONS_H_

#include "storage/db.h"

namespace outpost::storage {

// The schema version this binary writes.
int LatestSchemaVersion();

// Reads PRAGMA user_version.
Result<int> SchemaVersion(Connection* conn);

// Applies every migration above the database's version in one transaction, so a failure
// leaves the database as it was. Refuses (FailedPrecondition) a database whose version is
// newer than this binary knows.
Status Migrate(Connection* conn);

}  // namespace outpost::storage

#endif  // OUTPOST_STORAGE_MIGRATIONS_H_
