// A temporary folder for one test, removed with everything in it when the object dies.
#ifndef OUTPOST_TESTS_SUPPORT_TEMP_DIR_H_
#define OUTPOST_TESTS_SUPPORT_TEMP_DIR_H_

#include <string>
#include <vector>

namespace outpost::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Every file below `path` (recursively), as full paths; empty when `path` cannot be read.
std::vector<std::string> FilesUnder(const std::string& path);

// Writes `data` to `path` (mode 0600), aborting the test run on failure.
void WriteTestFile(const std::string& path, const std::string& data);

}  // namespace outpost::testing

#endif  // OUTPOST_TESTS_SUPPORT_TEMP_DIR_H_
