// The one mapping from Status codes to HTTP statuses, and the JSON error body every API
// error uses: {"error":{"code":"not_found","message":"..."}}.
#ifndef OUTPOST_API_HTTP_STATUS_H_
#define OUTPOST_API_HTTP_STATUS_H_

#include <string>
#include <string_view>

#include "util/status.h"

namespace httplib {
struct Response;
}

namespace outpost::api {

int HttpStatusFor(Code code);

// The JSON error body for `code` and `message`.
std::string ErrorBody(std::string_view code, std::string_view message);

// Sets res.status, the JSON body and its content type from `status` (which must not be OK).
void SetError(httplib::Response& res, const Status& status);

// For errors found by the HTTP layer itself (400 malformed, 413, 414, 404 for no route):
// the code name and a default sentence for an HTTP status.
std::string_view ErrorCodeForHttp(int http_status);
std::string_view DefaultMessageForHttp(int http_status);

}  // namespace outpost::api

#endif  // OUTPOST_API_HTTP_STATUS_H_
