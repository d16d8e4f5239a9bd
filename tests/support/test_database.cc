#include "support/test_database.h"

#include <catch2/catch.hpp>

namespace outpost::testing {

std::unique_ptr<storage::Database> NewTestDatabase(const std::string& path) {
  storage::OpenOptions o;
  o.create = true;
  auto opened = storage::Database::Open(path, o);
  INFO(path << ": " << opened.status().ToString());
  REQUIRE(opened.ok());
  return std::move(*opened);
}

}  // namespace outpost::testing
