// Structured logging: one JSON object per line on stderr. Callers pass fields explicitly; there
// is no free-form formatting, so a password, token or message body never reaches the log unless
// someone names it as a field (reviewers: refuse such a field).
#ifndef OUTPOST_UTIL_LOG_H_
#define OUTPOST_UTIL_LOG_H_

#include <nlohmann/json.hpp>
#include <string_view>

namespace outpost::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Returns false (and leaves the level alone) for anything but debug|info|warn|error.
bool SetLevel(std::string_view name);
void SetLevel(Level level);
bool Enabled(Level level);

// Writes {"ts":..,"level":..,"msg":msg, ...fields} as one line. Thread-safe; lines never
// interleave. `fields` must be a JSON object (or null).
void Write(Level level, std::string_view msg, const nlohmann::json& fields = nullptr);

inline void Debug(std::string_view m, const nlohmann::json& f = nullptr) {
  Write(Level::kDebug, m, f);
}
inline void Info(std::string_view m, const nlohmann::json& f = nullptr) {
  Write(Level::kInfo, m, f);
}
inline void Warn(std::string_view m, const nlohmann::json& f = nullptr) {
  Write(Level::kWarn, m, f);
}
inline void Error(std::string_view m, const nlohmann::json& f = nullptr) {
  Write(Level::kError, m, f);
}

// Redirects output (tests); nullptr restores stderr. The sink is called under the log mutex.
using Sink = void (*)(std::string_view line, void* arg);
void SetSink(Sink sink, void* arg);

}  // namespace outpost::log

#endif  // OUTPOST_UTIL_LOG_H_
