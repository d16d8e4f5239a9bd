#include "api/http_status.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

namespace outpost::api {

int HttpStatusFor(Code code) {
  switch (code) {
    case Code::kOk: return 200;
    case Code::kInvalidArgument: return 400;
    case Code::kUnauthenticated: return 401;
    case Code::kPermissionDenied: return 403;
    case Code::kFailedPrecondition: return 403;
    case Code::kNotFound: return 404;
    case Code::kAlreadyExists: return 409;
    case Code::kTooLarge: return 413;
    case Code::kResourceExhausted: return 429;
    case Code::kInsufficientStorage: return 507;
    case Code::kUnavailable: return 503;
    case Code::kCorruption:
    case Code::kIoError:
    case Code::kInternal: return 500;
  }
  return 500;
}

std::string ErrorBody(std::string_view code, std::string_view message) {
  nlohmann::json j = {{"error", {{"code", code}, {"message", message}}}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void SetError(httplib::Response& res, const Status& status) {
  res.status = HttpStatusFor(status.code());
  // Server-side failures are described in the log, not to the client; a full disk or a spent
  // quota is the client's to know (it decides what to delete or whom to ask).
  std::string message = res.status >= 500 && status.code() != Code::kUnavailable &&
                                status.code() != Code::kInsufficientStorage
                            ? "the server could not complete the request"
                            : status.message();
  res.set_content(ErrorBody(CodeName(status.code()), message), "application/json");
}

std::string_view ErrorCodeForHttp(int http_status) {
  switch (http_status) {
    case 400: return "invalid_argument";
    case 401: return "unauthenticated";
    case 403: return "permission_denied";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 413:
    case 414:
    case 431: return "too_large";
    case 415: return "unsupported_media_type";
    case 416: return "invalid_argument";
    case 429: return "resource_exhausted";
    case 503: return "unavailable";
    case 507: return "insufficient_storage";
    default: return http_status >= 500 ? "internal" : "invalid_argument";
  }
}

std::string_view DefaultMessageForHttp(int http_status) {
  switch (http_status) {
    case 400: return "the request is malformed";
    case 404: return "no such resource";
    case 405: return "method not allowed on this resource";
    case 413: return "the request body is larger than the server accepts";
    case 414: return "the request URI is too long";
    case 416: return "the requested range is not valid";
    case 431: return "the request headers are larger than the server accepts";
    default: return http_status >= 500 ? "the server could not complete the request"
                                       : "the request was refused";
  }
}

}  // namespace outpost::api
