// Stand-ins for later releases, for the installer test (install_test.sh): the real outpost
// binary with another version string (OUTPOST_TEST_VERSION), so that install.sh sees an
// upgrade. Built with OUTPOST_TEST_BROKEN it is a release that fails on start the way a bad
// upgrade does: `serve` migrates the database to a schema the previous version cannot read,
// then exits with an error before it serves anything. Everything else is the real binary, so
// the installer checks its signature, backs up and rolls back with real commands.
//
// main_command.cc is compiled here again under the other version; the linker then takes its
// Main and AddVersionCommand from this object instead of the library's.
#include <sqlite3.h>

#include <cstdio>
#include <cstring>
#include <string>

#undef OUTPOST_VERSION
#define OUTPOST_VERSION OUTPOST_TEST_VERSION
#include "cli/main_command.cc"

#ifdef OUTPOST_TEST_BROKEN
namespace {

// The data folder as `serve` would find it: --data DIR, else the default. (The test installs
// with the default; a --config naming another data.dir is not looked into.)
std::string DataDir(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--data") == 0) return argv[i + 1];
  }
  return "/var/lib/outpost";
}

int BrokenServe(const std::string& data) {
  std::string path = data + "/outpost.db";
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "outpost (broken test release): cannot open %s\n", path.c_str());
    sqlite3_close(db);
    return 7;
  }
  sqlite3_busy_timeout(db, 5000);
  int version = 0;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    version = sqlite3_column_int(stmt, 0);
  }
  sqlite3_finalize(stmt);
  std::string bump = "PRAGMA user_version=" + std::to_string(version + 1);
  int rc = sqlite3_exec(db, bump.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db);
  std::fprintf(stderr,
               "outpost %s (broken test release): migrated %s to schema %d (rc %d), then "
               "failed to start\n",
               OUTPOST_VERSION, path.c_str(), version + 1, rc);
  return 1;
}

}  // namespace
#endif

int main(int argc, char** argv) {
#ifdef OUTPOST_TEST_BROKEN
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "serve") == 0) return BrokenServe(DataDir(argc, argv));
  }
#endif
  return outpost::cli::Main(argc, argv);
}
