// The data-subject tools (GDPR articles 15, 17 and 20): export everything the appliance holds
// about one person, and erase their personal data while others' conversations stay readable.
//
// Export: one tar archive (POSIX ustar, written here) holding
//   outpost-export-<user>/user.json    profile, memberships, messages they wrote (with their
//                                      edit history), reactions, files they uploaded, sessions
//                                      and API tokens (metadata only: never secrets or hashes),
//                                      and the audit records about them
//   outpost-export-<user>/files/<id>-<name>  each file they uploaded, decrypted
// The archive is plaintext personal data: it is written with mode 0600, to a temporary name
// that is renamed into place only when complete.
//
// Erase: deletes the account row and with it (by the schema's cascades, and explicitly where
// counts are reported) sessions, API tokens, memberships, reactions, thread follows and
// notifications; deletes the files they uploaded and then their blobs; deletes chat events
// addressed to them or showing their name. Messages they wrote stay in their rooms with no
// author (Message::author_id 0: clients show a deleted user). Their direct-message rooms are
// unlinked from the pair of ids, so that an account created later with the same id never
// lands in them. Audit records about them are kept: the log is append-only and is the
// appliance's record of what happened (docs/operations.md "Export and erasure").
#ifndef OUTPOST_DOMAIN_GDPR_H_
#define OUTPOST_DOMAIN_GDPR_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "domain/file_store.h"
#include "domain/files.h"
#include "storage/database.h"
#include "util/clock.h"
#include "util/status.h"

namespace outpost::domain {

struct ExportOptions {
  std::string out_path;  // the archive to write; its folder must exist
  bool force = false;    // replace an existing file (otherwise AlreadyExists)
};

struct ExportSummary {
  std::string path;
  int64_t user_id = 0;
  int64_t memberships = 0;
  int64_t messages = 0;
  int64_t reactions = 0;
  int64_t files = 0;
  int64_t file_bytes = 0;
  int64_t sessions = 0;
  int64_t tokens = 0;
  int64_t audit_records = 0;
  int64_t archive_bytes = 0;
};

struct EraseSummary {
  int64_t user_id = 0;
  std::string role;
  int64_t messages_kept = 0;  // messages they wrote, now shown without an author
  int64_t reactions = 0;
  int64_t files = 0;
  int64_t file_bytes = 0;
  int64_t blobs = 0;  // blob files removed from disk
  int64_t sessions = 0;
  int64_t tokens = 0;
  int64_t memberships = 0;
  int64_t events = 0;
};

// Thread-safe. Pointers must outlive it.
class PersonalData {
 public:
  // `files` gives the blob folder and collects blobs after an erasure; `master_key` decrypts
  // the blobs for an export.
  PersonalData(storage::Database* db, const Clock* clock, Files* files,
               std::string_view master_key)
      : db_(db), clock_(clock), files_(files), keys_(BlobKeys::Derive(master_key)) {}

  // Writes the export of `username` (any case) to options.out_path. NotFound "no user named"
  // for an unknown user; AlreadyExists when the file exists without `force`; IoError;
  // Corruption when a blob does not decrypt to its recorded size. On error no archive and no
  // temporary file is left.
  Result<ExportSummary> Export(std::string_view username, const ExportOptions& options);

  // Erases `username` (any case) in one transaction, then collects the blobs no file refers
  // to. NotFound "no user named" for an unknown (or already erased) user; FailedPrecondition
  // for the last administrator (no other enabled administrator would be left).
  Result<EraseSummary> Erase(std::string_view username);

 private:
  storage::Database* const db_;
  const Clock* const clock_;
  Files* const files_;
  const BlobKeys keys_;
};

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_GDPR_H_
