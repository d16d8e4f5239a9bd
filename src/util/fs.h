// File helpers with the durability and permission rules the appliance needs: secrets are
// written atomically (temp file, fsync, rename, fsync of the folder) with mode 0600.
#ifndef OUTPOST_UTIL_FS_H_
#define OUTPOST_UTIL_FS_H_

#include <string>
#include <string_view>

#include "util/status.h"

namespace outpost {

// Reads the whole file. NotFound when it does not exist; IoError otherwise.
Result<std::string> ReadFile(const std::string& path);

// Replaces `path` with `data` atomically and durably, created with `mode`.
Status WriteFileAtomic(const std::string& path, std::string_view data, int mode = 0600);

// Creates `path` (and missing parents) with `mode`. An existing folder is accepted and its mode
// is tightened to `mode` when `tighten` is set.
Status MakeDirs(const std::string& path, int mode = 0700, bool tighten = false);

bool PathExists(const std::string& path);

// Fails with a sentence naming the folder when a file cannot be created in `dir`.
Status CheckWritableDir(const std::string& dir);

// "path: reason" from errno.
Status ErrnoStatus(const std::string& what, int err);

}  // namespace outpost

#endif  // OUTPOST_UTIL_FS_H_
