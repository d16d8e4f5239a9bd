// The outpost binary: every command of the appliance (serve, init, user, cert, config,
// version) behind one CLI; src/cli/ holds them.
#include "cli/commands.h"

int main(int argc, char** argv) { return outpost::cli::Main(argc, argv); }
