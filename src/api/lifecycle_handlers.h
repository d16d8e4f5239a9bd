// Handlers of the data-lifecycle routes, named in routes.cc: scheduled backups
// (backup_handlers.cc) and per-room retention (retention_handlers.cc). Each follows the Handler
// contract of routes.h.
#ifndef OUTPOST_API_LIFECYCLE_HANDLERS_H_
#define OUTPOST_API_LIFECYCLE_HANDLERS_H_

#include "api/routes.h"

namespace outpost::api {

// GET /api/v1/admin/backups: the schedule, the last runs' result and every archive in the
// backup folder with its state (complete or why not).
Status HandleListBackups(Call& call);
// POST /api/v1/admin/backups: makes a scheduled-style backup now and answers with its result
// (201), or the failure (which is also counted and audited like a scheduled run's).
Status HandleRunBackup(Call& call);

// PUT /api/v1/rooms/{id}/retention: a room's own retention ({"messages_days": n | null,
// "files_days": n | null}; null or absent follows the global policy).
Status HandleSetRoomRetention(Call& call);

}  // namespace outpost::api

#endif  // OUTPOST_API_LIFECYCLE_HANDLERS_H_
