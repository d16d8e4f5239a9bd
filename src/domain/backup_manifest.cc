#include "domain/backup_manifest.h"

#include <sodium.h>

#include <nlohmann/json.hpp>
#include <set>

namespace outpost::domain {
namespace {

constexpr size_t kIoBufferSize = 256 * 1024;
// A manifest lists every file; at ~150 bytes an entry this allows millions of blobs while
// keeping a hostile archive from asking for unbounded memory.
constexpr uint64_t kMaxManifestBytes = 512ull << 20;

Status Corrupt(const std::string& what) { return Status::Corruption("the backup " + what); }

std::string KindName(MemberKind kind) {
  return kind == MemberKind::kDatabase ? "database" : "file";
}

}  // namespace

bool MemberNameAllowed(MemberKind kind, const std::string& name) {
  if (kind == MemberKind::kDatabase) return name == kDatabaseMemberName;
  if (name.find('\0') != std::string::npos) return false;
  size_t slash = name.find('/');
  if (slash == std::string::npos) return false;
  std::string top = name.substr(0, slash);
  if (top != "keys" && top != "tls" && top != "blobs") return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    std::string_view part(name.data() + start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

std::string EncodeManifest(const std::vector<ManifestEntry>& entries, int64_t created_at,
                           const std::string& public_key) {
  nlohmann::json members = nlohmann::json::array();
  for (const auto& r : entries) {
    members.push_back({{"kind", KindName(r.kind)},
                       {"name", r.name},
                       {"mode", r.mode},
                       {"size", r.size},
                       {"blake2b", r.blake2b_hex}});
  }
  nlohmann::json manifest = {{"format", "outpost-backup"},
                             {"format_version", kBackupFormatVersion},
                             {"outpost_version", OUTPOST_VERSION},
                             {"created_at", FormatIso8601(created_at)},
                             {"created_at_ms", created_at},
                             {"signing_public_key", HexEncode(public_key)},
                             {"members", members}};
  return manifest.dump();
}

namespace {

Status CheckManifest(const std::string& manifest_bytes, const std::string& signature,
                     const std::vector<ManifestEntry>& seen, const std::string& signing_pub,
                     const BackupHeader& header, BackupSummary* summary) {
  nlohmann::json m = nlohmann::json::parse(manifest_bytes, nullptr, false);
  if (m.is_discarded() || !m.is_object()) return Corrupt("manifest is not valid JSON");
  try {
    if (m.at("format") != "outpost-backup" || m.at("format_version").get<int>() != header.version) {
      return Corrupt("manifest names another format");
    }
    if (m.at("created_at_ms").get<int64_t>() != header.created_at) {
      return Corrupt("manifest's time differs from the header's");
    }
    std::string key_hex = m.at("signing_public_key").get<std::string>();
    if (signing_pub.empty()) return Corrupt("holds no " + std::string(kSigningPubMemberName));
    if (key_hex != HexEncode(signing_pub)) {
      return Corrupt("manifest is signed by another key than the archive's own " +
                     std::string(kSigningPubMemberName));
    }
    if (crypto_sign_verify_detached(
            reinterpret_cast<const unsigned char*>(signature.data()),
            reinterpret_cast<const unsigned char*>(manifest_bytes.data()), manifest_bytes.size(),
            reinterpret_cast<const unsigned char*>(signing_pub.data())) != 0) {
      return Corrupt("manifest signature does not verify");
    }
    std::vector<ManifestEntry> listed;
    for (const auto& e : m.at("members")) {
      std::string kind = e.at("kind").get<std::string>();
      listed.push_back({kind == "database" ? MemberKind::kDatabase : MemberKind::kFile,
                        e.at("name").get<std::string>(), e.at("mode").get<uint32_t>(),
                        e.at("size").get<uint64_t>(), e.at("blake2b").get<std::string>()});
      if (kind != "database" && kind != "file") return Corrupt("manifest has an unknown kind");
    }
    if (listed != seen) {
      return Corrupt("members differ from its manifest (missing, extra, reordered or changed)");
    }
    summary->outpost_version = m.at("outpost_version").get<std::string>();
    summary->signing_public_key = key_hex;
  } catch (const nlohmann::json::exception& e) {
    return Corrupt(std::string("manifest is malformed: ") + e.what());
  }
  return Status::Ok();
}

}  // namespace

Result<BackupSummary> ReadVerifiedArchive(int fd, const BackupSecret& secret, MemberSink* sink,
                                          const BackupProgress& progress) {
  OUTPOST_ASSIGN_OR_RETURN(std::unique_ptr<ArchiveReader> r, ArchiveReader::Open(fd, secret));
  BackupSummary summary;
  std::vector<ManifestEntry> seen;
  std::set<std::string> names;
  std::string manifest, signature, signing_pub;
  bool have_manifest = false, have_signature = false, have_database = false;
  std::string buf(kIoBufferSize, '\0');
  MemberHeader m;
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool more, r->NextMember(&m));
    if (!more) break;
    if (have_signature) return Corrupt("has members after its signature");
    if (m.kind == MemberKind::kManifest || m.kind == MemberKind::kSignature) {
      bool is_manifest = m.kind == MemberKind::kManifest;
      if (is_manifest ? (have_manifest || m.size > kMaxManifestBytes)
                      : (!have_manifest || m.size != crypto_sign_BYTES)) {
        return Corrupt("has a misplaced or malformed manifest or signature");
      }
      std::string& into = is_manifest ? manifest : signature;
      into.resize(m.size);
      size_t done = 0;
      while (done < m.size) {
        OUTPOST_ASSIGN_OR_RETURN(size_t n, r->Read(into.data() + done, m.size - done));
        done += n;
      }
      (is_manifest ? have_manifest : have_signature) = true;
      continue;
    }
    if (have_manifest) return Corrupt("has members after its manifest");
    if (!MemberNameAllowed(m.kind, m.name))
      return Corrupt("has a member with a bad name: " + m.name);
    if (!names.insert(m.name).second) return Corrupt("holds " + m.name + " twice");
    have_database |= m.kind == MemberKind::kDatabase;
    if (sink != nullptr) OUTPOST_RETURN_IF_ERROR(sink->Begin(m));
    crypto_generichash_state hash;
    crypto_generichash_init(&hash, nullptr, 0, 32);
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(size_t n, r->Read(buf.data(), buf.size()));
      if (n == 0) break;
      std::string_view piece(buf.data(), n);
      crypto_generichash_update(&hash, reinterpret_cast<const unsigned char*>(piece.data()), n);
      if (m.name == kSigningPubMemberName && signing_pub.size() + n <= crypto_sign_PUBLICKEYBYTES) {
        signing_pub.append(piece);
      }
      if (sink != nullptr) OUTPOST_RETURN_IF_ERROR(sink->Write(piece));
      if (progress) progress(r->bytes_read(), r->file_size());
    }
    if (sink != nullptr) OUTPOST_RETURN_IF_ERROR(sink->End());
    std::string digest(32, '\0');
    crypto_generichash_final(&hash, reinterpret_cast<unsigned char*>(digest.data()), 32);
    seen.push_back({m.kind, m.name, m.mode, m.size, HexEncode(digest)});
    summary.members += 1;
    summary.bytes += static_cast<int64_t>(m.size);
  }
  WipeString(&buf);
  if (!have_manifest || !have_signature) return Corrupt("has no signed manifest");
  if (!have_database) return Corrupt("holds no database");
  if (signing_pub.size() != crypto_sign_PUBLICKEYBYTES) signing_pub.clear();
  OUTPOST_RETURN_IF_ERROR(
      CheckManifest(manifest, signature, seen, signing_pub, r->header(), &summary));
  summary.created_at = r->header().created_at;
  summary.format_version = r->header().version;
  summary.key_kind = r->header().key_kind;
  summary.archive_size = r->file_size();
  if (progress) progress(r->file_size(), r->file_size());
  return summary;
}

}  // namespace outpost::domain
