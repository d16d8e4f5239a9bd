// Status and Result<T>: how every layer below the CLI and the HTTP handlers reports failure.
// No exception crosses a layer boundary; exceptions thrown by third-party libraries are caught
// where they are thrown and turned into a Status.
#ifndef OUTPOST_UTIL_STATUS_H_
#define OUTPOST_UTIL_STATUS_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace outpost {

// The kinds of failure that callers act on. Each maps to one HTTP status (api/http_status.h)
// and one CLI exit code (cli/exit_codes.h).
enum class Code {
  kOk = 0,
  kInvalidArgument,    // the caller's input is wrong: fix the input and retry
  kNotFound,           // no such thing, or the caller may not see it
  kAlreadyExists,      // a unique name or id is taken
  kPermissionDenied,   // authenticated but not allowed
  kUnauthenticated,    // no valid credentials
  kFailedPrecondition, // the state of the system forbids it (e.g. disabled account)
  kResourceExhausted,  // a limit or rate is reached (storage: kInsufficientStorage)
  kInsufficientStorage,  // the disk is full or a storage quota is spent: retrying will not help
  kTooLarge,           // a body, header or file over its configured limit
  kUnavailable,        // try again later (shutting down, database busy)
  kCorruption,         // stored data is damaged
  kIoError,            // the operating system refused (disk full, permissions)
  kInternal,           // a bug
};

// Returns a stable lower-case name for `code` ("not_found"), used in JSON errors and logs.
std::string_view CodeName(Code code);

// A Status is either OK or a code with a human-readable message. Cheap to copy when OK.
// Thread-compatible: a const Status may be read from several threads.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
  static Status Unauthenticated(std::string m) { return {Code::kUnauthenticated, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {Code::kFailedPrecondition, std::move(m)};
  }
  static Status ResourceExhausted(std::string m) {
    return {Code::kResourceExhausted, std::move(m)};
  }
  static Status InsufficientStorage(std::string m) {
    return {Code::kInsufficientStorage, std::move(m)};
  }
  static Status TooLarge(std::string m) { return {Code::kTooLarge, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status IoError(std::string m) { return {Code::kIoError, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsAlreadyExists() const { return code_ == Code::kAlreadyExists; }

  // "not_found: no user named 'bob'"; "ok" when OK.
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <message>"; OK stays OK.
  Status WithContext(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Result<T> holds either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}                 // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}         // NOLINT: implicit by design

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  // Precondition: ok().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace outpost

// Returns early from the enclosing function when `expr` yields a non-OK Status.
#define OUTPOST_RETURN_IF_ERROR(expr)            \
  do {                                           \
    ::outpost::Status _st = (expr);              \
    if (!_st.ok()) return _st;                   \
  } while (0)

#define OUTPOST_CONCAT_INNER_(a, b) a##b
#define OUTPOST_CONCAT_(a, b) OUTPOST_CONCAT_INNER_(a, b)
// Declares `lhs` from a Result<T>, returning its Status from the enclosing function on error.
#define OUTPOST_ASSIGN_OR_RETURN(lhs, expr)                              \
  auto OUTPOST_CONCAT_(_res_, __LINE__) = (expr);                       \
  if (!OUTPOST_CONCAT_(_res_, __LINE__).ok())                           \
    return OUTPOST_CONCAT_(_res_, __LINE__).status();                   \
  lhs = std::move(OUTPOST_CONCAT_(_res_, __LINE__)).value()

#endif  // OUTPOST_UTIL_STATUS_H_
