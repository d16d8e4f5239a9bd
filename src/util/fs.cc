#include "util/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/crypto.h"

namespace outpost {

Status ErrnoStatus(const std::string& what, int err) {
  std::string msg = what + ": " + strerror(err);
  if (err == ENOENT) return Status::NotFound(msg);
  return Status::IoError(msg);
}

Result<std::string> ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(path, errno);
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return ErrnoStatus(path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

namespace {

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status FsyncDir(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(dir, errno);
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  if (rc != 0) return ErrnoStatus(dir, err);
  return Status::Ok();
}

}  // namespace

Status WriteFileAtomic(const std::string& path, std::string_view data, int mode) {
  std::string tmp = path + ".tmp-" + HexEncode(RandomBytes(6));
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus(tmp, errno);
  fchmod(fd, static_cast<mode_t>(mode));  // the umask may have narrowed or widened it
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      unlink(tmp.c_str());
      return ErrnoStatus(tmp, err);
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    int err = errno;
    close(fd);
    unlink(tmp.c_str());
    return ErrnoStatus(tmp, err);
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return ErrnoStatus(path, err);
  }
  return FsyncDir(DirName(path));
}

Status MakeDirs(const std::string& path, int mode, bool tighten) {
  if (path.empty()) return Status::InvalidArgument("empty folder name");
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return Status::IoError(path + ": exists and is not a folder");
    if (tighten && (st.st_mode & 07777) != static_cast<mode_t>(mode) &&
        chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) {
      return ErrnoStatus(path, errno);
    }
    return Status::Ok();
  }
  std::string parent = DirName(path);
  if (parent != path && parent != "." && parent != "/") {
    OUTPOST_RETURN_IF_ERROR(MakeDirs(parent, 0755, false));
  }
  if (mkdir(path.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST) {
    return ErrnoStatus(path, errno);
  }
  if (chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) return ErrnoStatus(path, errno);
  return Status::Ok();
}

bool PathExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

Status CheckWritableDir(const std::string& dir) {
  std::string probe = dir + "/.write-test-" + HexEncode(RandomBytes(6));
  int fd = open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    int err = errno;
    return Status::IoError("data folder " + dir + " is not writable: " + strerror(err));
  }
  close(fd);
  unlink(probe.c_str());
  return Status::Ok();
}

}  // namespace outpost
