#include "api/file_handlers.h"

#include <httplib.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <set>

#include "api/chat_handlers.h"
#include "api/http_status.h"
#include "domain/audit.h"
#include "util/log.h"

namespace outpost::api {
namespace {

const domain::User& Actor(const Call& call) { return call.principal->user; }

Status NeedFiles(const Call& call) {
  if (call.svc.files == nullptr) return Status::Unavailable("file sharing is not enabled");
  return Status::Ok();
}

// RFC 5987 encoding of a UTF-8 file name, and an ASCII fallback.
std::string ContentDisposition(std::string_view kind, const std::string& name) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string enc, ascii;
  for (unsigned char c : name) {
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_') {
      enc.push_back(static_cast<char>(c));
    } else {
      enc += '%';
      enc += kHex[c >> 4];
      enc += kHex[c & 15];
    }
    ascii.push_back(c >= 0x20 && c < 0x7F && c != '"' && c != '\\' ? static_cast<char>(c) : '_');
  }
  return std::string(kind) + "; filename=\"" + ascii + "\"; filename*=UTF-8''" + enc;
}

bool InlineSafe(const std::string& type) {
  return type == "image/png" || type == "image/jpeg" || type == "image/gif" ||
         type == "image/webp";
}

bool Scriptable(const std::string& type) {
  return type == "text/html" || type == "image/svg+xml" || type == "application/xml" ||
         type == "text/javascript";
}

// Decrypts sequentially; a request for an earlier offset starts over (secretstream cannot
// seek), so a Range far into a large file costs a read of what lies before it.
struct DownloadState {
  std::unique_ptr<domain::BlobReader> reader;
  std::string buf;
  uint64_t buf_start = 0;
};

bool Provide(DownloadState& st, size_t offset, size_t length, httplib::DataSink& sink) {
  if (offset < st.buf_start) {
    if (!st.reader->Rewind().ok()) return false;
    st.buf.clear();
    st.buf_start = 0;
  }
  while (true) {
    uint64_t end = st.buf_start + st.buf.size();
    if (offset >= st.buf_start && offset < end) {
      size_t at = offset - st.buf_start;
      size_t n = std::min<size_t>(length, st.buf.size() - at);
      return sink.write(st.buf.data() + at, n);
    }
    if (st.reader->done()) return false;
    st.buf_start = end;
    Status s = st.reader->Next(&st.buf);
    if (!s.ok()) {
      log::Error("file download failed", {{"error", s.ToString()}});
      return false;
    }
  }
}

// The parts of a multipart/form-data upload: exactly one file part (the one with a filename,
// or named "file"), streamed to the upload as it arrives; small text fields "message",
// "thread_root_id" and "name" kept in memory (a form field overrides the query parameter).
struct FormState {
  static constexpr size_t kMaxFieldBytes = 64 * 1024;

  explicit FormState(const domain::UploadRequest* from_query) : query(*from_query) {}

  Status StartPart(const httplib::MultipartFormData& part) {
    in_file = false;
    field = nullptr;
    if (!part.filename.empty() || part.name == "file") {
      if (files++ > 0) return Status::InvalidArgument("send exactly one file part per upload");
      in_file = true;
      file_name = part.filename;
      return Status::Ok();
    }
    if (part.name == "message") {
      field = &message;
    } else if (part.name == "thread_root_id") {
      field = &thread_root_id;
    } else if (part.name == "name") {
      field = &name;
    } else {
      return Status::InvalidArgument("unexpected form field '" + part.name.substr(0, 64) +
                                     "' (expected file, message, thread_root_id, name)");
    }
    if (!seen.insert(part.name).second) {
      return Status::InvalidArgument("the form field '" + part.name + "' is given twice");
    }
    return Status::Ok();
  }

  Status AppendField(std::string_view bytes) {
    if (field == nullptr) return Status::InvalidArgument("form data outside a part");
    if (field->size() + bytes.size() > kMaxFieldBytes) {
      return Status::InvalidArgument("a form field is longer than 64 KiB");
    }
    field->append(bytes);
    return Status::Ok();
  }

  // Fills `out` from the parts (query parameters where a part is absent).
  Status Finish(domain::UploadRequest* out) const {
    if (files == 0) return Status::InvalidArgument("the form has no file part");
    if (seen.count("message")) out->message = message;
    if (seen.count("thread_root_id")) {
      char* end = nullptr;
      errno = 0;
      long long v = std::strtoll(thread_root_id.c_str(), &end, 10);
      if (thread_root_id.empty() || *end != '\0' || errno != 0 || v < 0) {
        return Status::InvalidArgument("thread_root_id must be a message id");
      }
      out->thread_root_id = v;
    }
    if (seen.count("name")) {
      out->name = name;
    } else if (query.name.empty()) {
      out->name = file_name;
    }
    return domain::SanitizeFileName(out->name).status();
  }

  const domain::UploadRequest query;
  bool in_file = false;
  std::string* field = nullptr;  // the text field being read; null in the file part
  int files = 0;
  std::string file_name, message, thread_root_id, name;
  std::set<std::string> seen;
};

// Records a download that is about to be served (not a 304, which sends no bytes): who, which
// file in which room, and how many bytes of which range. Under the audit log's refuse policy a
// record that cannot be written refuses the download.
Status AuditDownload(Call& call, const domain::FileInfo& file) {
  if (call.svc.audit == nullptr) return Status::Ok();
  domain::AuditEvent e;
  e.actor = Actor(call).username;
  e.actor_id = Actor(call).id;
  e.source_ip = call.req.remote_addr;
  e.action = "file.download";
  e.target = "file:" + std::to_string(file.id);
  e.details = {{"room_id", file.room_id}, {"name", file.name}, {"size", file.size}};
  int64_t bytes = file.size;
  if (!call.req.ranges.empty()) {
    // Validated by the caller: one range inside the file.
    auto [first, last] = call.req.ranges[0];
    int64_t from = first < 0 ? std::max<int64_t>(0, file.size - last) : first;
    int64_t to = first < 0 || last < 0 ? file.size - 1 : std::min<int64_t>(last, file.size - 1);
    bytes = to - from + 1;
    e.details["range"] = std::to_string(from) + "-" + std::to_string(to);
  }
  e.details["bytes"] = bytes;
  return call.svc.audit->Append(e).status();
}

nlohmann::json FileList(const std::vector<domain::FileInfo>& files) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& f : files) list.push_back(domain::FileJson(f));
  return list;
}

}  // namespace

Status HandleUploadFile(Call& call) {
  OUTPOST_RETURN_IF_ERROR(NeedFiles(call));
  if (call.content_reader == nullptr) return Status::Internal("upload route without a reader");
  if (RateLimiter* limit = call.svc.upload_limiter; limit != nullptr) {
    if (int64_t wait = limit->Take(call.principal->user.id); wait > 0) {
      SetRateLimited(call.res, wait, "uploads", limit->per_minute());
      return Status::Ok();
    }
  }
  const bool multipart = call.req.is_multipart_form_data();
  domain::UploadRequest request;
  request.name = call.req.get_param_value("name");
  request.message = call.req.get_param_value("message");
  request.client_type = call.req.get_header_value("Content-Type");
  OUTPOST_ASSIGN_OR_RETURN(request.thread_root_id,
                           QueryInt(call, "thread_root_id", 0, 0, INT64_MAX));
  // A raw body is named by the query; a form's file part names itself (checked at the end).
  if (!multipart) OUTPOST_RETURN_IF_ERROR(domain::SanitizeFileName(request.name).status());
  int64_t declared = -1;
  if (call.req.has_header("Content-Length")) {
    const std::string v = call.req.get_header_value("Content-Length");
    char* end = nullptr;
    unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || n > static_cast<unsigned long long>(INT64_MAX)) {
      return Status::InvalidArgument("invalid Content-Length");
    }
    declared = static_cast<int64_t>(n);
  }
  // A form's length includes its boundaries and fields: only the file part's bytes count, and
  // they are checked against the limits as they arrive.
  OUTPOST_ASSIGN_OR_RETURN(
      std::unique_ptr<domain::Upload> upload,
      call.svc.files->Begin(Actor(call), PathId(call), multipart ? -1 : declared));
  Status body;
  bool complete = false;
  if (!multipart) {
    complete = (*call.content_reader)([&](const char* data, size_t n) {
      body = upload->Append(std::string_view(data, n));
      return body.ok();
    });
  } else {
    FormState form(&request);
    complete = (*call.content_reader)(
        [&](const httplib::MultipartFormData& part) {
          body = form.StartPart(part);
          return body.ok();
        },
        [&](const char* data, size_t n) {
          body = form.in_file ? upload->Append(std::string_view(data, n))
                              : form.AppendField(std::string_view(data, n));
          return body.ok();
        });
    if (body.ok() && complete) body = form.Finish(&request);
  }
  OUTPOST_RETURN_IF_ERROR(body);
  if (!complete) {
    return Status::InvalidArgument(multipart ? "the form was cut off or is not valid multipart"
                                             : "the upload was cut off before its end");
  }
  OUTPOST_ASSIGN_OR_RETURN(domain::FileInfo file,
                           call.svc.files->Finish(std::move(upload), request));
  SetJson(call.res, 201, domain::FileJson(file));
  return Status::Ok();
}

Status HandleListRoomFiles(Call& call) {
  OUTPOST_RETURN_IF_ERROR(NeedFiles(call));
  OUTPOST_ASSIGN_OR_RETURN(int64_t limit, QueryInt(call, "limit", 50, 1, 200));
  OUTPOST_ASSIGN_OR_RETURN(int64_t before, QueryInt(call, "before_id", 0, 0, INT64_MAX));
  OUTPOST_ASSIGN_OR_RETURN(
      std::vector<domain::FileInfo> files,
      call.svc.files->ListRoom(Actor(call), PathId(call), before, static_cast<int>(limit)));
  SetJson(call.res, 200, {{"files", FileList(files)}});
  return Status::Ok();
}

Status HandleDownloadFile(Call& call) {
  OUTPOST_RETURN_IF_ERROR(NeedFiles(call));
  OUTPOST_ASSIGN_OR_RETURN(auto opened, call.svc.files->Open(Actor(call), PathId(call)));
  auto& [file, reader] = opened;
  httplib::Response& res = call.res;
  const std::string etag =
      "\"" + std::to_string(file.id) + "-" + file.blob_name.substr(0, 16) + "\"";
  res.set_header("ETag", etag);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Cache-Control", "private, no-cache");
  res.headers.erase("Content-Security-Policy");
  res.set_header("Content-Security-Policy", "sandbox; default-src 'none'");
  std::string type = file.content_type;
  if (InlineSafe(type)) {
    res.set_header("Content-Disposition", ContentDisposition("inline", file.name));
  } else {
    if (Scriptable(type)) type = "application/octet-stream";
    res.set_header("Content-Disposition", ContentDisposition("attachment", file.name));
  }
  if (call.req.get_header_value("If-None-Match") == etag) {
    res.status = 304;
    return Status::Ok();
  }
  res.status = 200;
  if (!call.req.ranges.empty()) {
    // One range, inside the file (httplib trusts the provider's length and would run past it).
    const auto size = static_cast<ssize_t>(file.size);
    const auto [first, last] = call.req.ranges[0];
    bool ok = call.req.ranges.size() == 1 && size > 0 &&
              (first < 0 ? last > 0 : (first < size && (last < 0 || last >= first)));
    if (!ok) {
      res.status = 416;
      res.set_header("Content-Range", "bytes */" + std::to_string(file.size));
      return Status::Ok();
    }
    res.status = 206;
  }
  OUTPOST_RETURN_IF_ERROR(AuditDownload(call, file));
  if (file.size == 0) {
    res.set_content("", type);
    return Status::Ok();
  }
  auto state = std::make_shared<DownloadState>();
  state->reader = std::move(reader);
  res.set_content_provider(
      static_cast<size_t>(file.size), type,
      [state](size_t offset, size_t length, httplib::DataSink& sink) {
        return Provide(*state, offset, length, sink);
      });
  return Status::Ok();
}

Status HandleListAllFiles(Call& call) {
  OUTPOST_RETURN_IF_ERROR(NeedFiles(call));
  OUTPOST_ASSIGN_OR_RETURN(int64_t limit, QueryInt(call, "limit", 100, 1, 1000));
  std::string order = call.req.get_param_value("order");
  if (!order.empty() && order != "size" && order != "new") {
    return Status::InvalidArgument("order is 'size' or 'new'");
  }
  OUTPOST_ASSIGN_OR_RETURN(std::vector<domain::FileInfo> files,
                           call.svc.files->ListAll(order, static_cast<int>(limit)));
  OUTPOST_ASSIGN_OR_RETURN(std::vector<domain::Usage> users, call.svc.files->UsageByUser());
  OUTPOST_ASSIGN_OR_RETURN(std::vector<domain::Usage> rooms, call.svc.files->UsageByRoom());
  auto usage = [](const std::vector<domain::Usage>& v, const char* key) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& u : v) list.push_back({{key, u.key}, {"files", u.files}, {"bytes", u.bytes}});
    return list;
  };
  SetJson(call.res, 200,
          {{"files", FileList(files)},
           {"usage_by_user", usage(users, "username")},
           {"usage_by_room", usage(rooms, "room_id")}});
  return Status::Ok();
}

Status HandleDeleteMessageAndFiles(Call& call) {
  OUTPOST_RETURN_IF_ERROR(HandleDeleteMessage(call));
  if (call.svc.files != nullptr) {
    auto removed = call.svc.files->CollectGarbage();
    if (!removed.ok()) {
      log::Error("removing unused blobs failed", {{"error", removed.status().ToString()}});
    }
  }
  return Status::Ok();
}

}  // namespace outpost::api
