// The test runner's main. Every test file registers its cases with Catch2; tags say which
// layer they cover ("[unit][storage]") and ctest runs "[unit]" and "[integration]" apart.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <csignal>

#include "util/crypto.h"

int main(int argc, char** argv) {
  if (!outpost::InitCrypto().ok()) return 1;
  std::signal(SIGPIPE, SIG_IGN);  // a test server closing on us must not kill the runner
  return Catch::Session().run(argc, argv);
}
