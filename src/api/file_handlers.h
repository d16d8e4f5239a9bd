// Handlers of the file routes (upload, download, lists), named in routes.cc. Each follows the
// Handler contract of routes.h; room-level access is decided by domain::Files.
#ifndef OUTPOST_API_FILE_HANDLERS_H_
#define OUTPOST_API_FILE_HANDLERS_H_

#include "api/routes.h"

namespace outpost::api {

// POST /api/v1/rooms/{id}/files?name=&message=&thread_root_id= with the file as the raw body,
// or as multipart/form-data with one file part (and optional message, thread_root_id, name
// parts). A streaming_body route: the file is written to the blob store piece by piece, never
// held whole in memory. 413 over the file limit, 507 over a quota or on a full disk.
Status HandleUploadFile(Call& call);
// GET /api/v1/rooms/{id}/files: the room's files, newest first.
Status HandleListRoomFiles(Call& call);
// GET /api/v1/files/{id}: the file's bytes (Range, ETag, safe headers). Every download but a
// 304 is recorded in the audit log when there is one.
Status HandleDownloadFile(Call& call);
// GET /api/v1/files (administrators): every file by size or age, with usage per user and room.
Status HandleListAllFiles(Call& call);
// DELETE /api/v1/messages/{id}: deletes the message (with its files), then removes blobs that
// nothing refers to any more.
Status HandleDeleteMessageAndFiles(Call& call);

}  // namespace outpost::api

#endif  // OUTPOST_API_FILE_HANDLERS_H_
