// Handlers of the admin console's own routes (admin_handlers.cc), named in routes.cc: the
// system status page, the list of every channel, password resets and the runtime settings. Each follows the Handler contract of
// routes.h; the route table decides who may call them (administrators).
#ifndef OUTPOST_API_ADMIN_HANDLERS_H_
#define OUTPOST_API_ADMIN_HANDLERS_H_

#include "api/routes.h"

namespace outpost::api {

// GET /api/v1/admin/status: version, start time and uptime, open HTTPS connections and
// WebSockets, database file and WAL sizes, free space on the data folder's file system, stored
// file bytes, audit storage use, account and room counts, and the scheduled backups' last
// result. Parts that a server runs without (realtime, backups) are null, never invented.
Status HandleAdminStatus(Call& call);

// GET /api/v1/admin/rooms?q=&archived=all|only|none&after_id=&limit=: every public and
// private channel (the caller need not be a member), with member count and owners, by id;
// `next_after_id` is null on the last page. Direct and group messages are never listed: they
// stay private to their members, administrators included (the status counts them).
Status HandleAdminRooms(Call& call);

// POST /api/v1/users/{name}/password {"password": "..."}: sets a new password for the account
// (the site's password policy applies; its refusal is the 400 message), ends every session and
// WebSocket of that user, audited as user.password_reset. NotFound for an unknown name.
Status HandleResetUserPassword(Call& call);

// GET /api/v1/admin/settings: the settings that may change at runtime (banner_text,
// banner_color, login_notice), each {"value", "default" (the configuration file's),
// "overridden"}, and the banner colors. 503 when the server keeps no site settings.
Status HandleGetSettings(Call& call);

// PATCH /api/v1/admin/settings {"banner_text": "...", "login_notice": null, ...}: a string sets
// a value, null goes back to the configuration file's; other keys are refused (400). Applied at
// once for every request that follows, stored, and audited as settings.update with the key
// names. Answers as GET does.
Status HandlePatchSettings(Call& call);

}  // namespace outpost::api

#endif  // OUTPOST_API_ADMIN_HANDLERS_H_
