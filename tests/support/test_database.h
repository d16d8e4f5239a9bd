// A database for a test: created in the test's temporary folder and migrated to the latest
// schema, as the server opens its own.
#ifndef OUTPOST_TESTS_SUPPORT_TEST_DATABASE_H_
#define OUTPOST_TESTS_SUPPORT_TEST_DATABASE_H_

#include <memory>
#include <string>

#include "storage/database.h"

namespace outpost::testing {

// Opens (creating it when missing) the database file at `path`; fails the current test when
// it cannot.
std::unique_ptr<storage::Database> NewTestDatabase(const std::string& path);

}  // namespace outpost::testing

#endif  // OUTPOST_TESTS_SUPPORT_TEST_DATABASE_H_
