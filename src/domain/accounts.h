// Local accounts: create, look up, list, disable and enable, reset passwords, and check a
// user name and password. The front header of the domain layer's account concept.
#ifndef OUTPOST_DOMAIN_ACCOUNTS_H_
#define OUTPOST_DOMAIN_ACCOUNTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "domain/passwords.h"
#include "storage/database.h"
#include "util/clock.h"
#include "util/status.h"

namespace outpost::domain {

// Appliance-wide roles. The fine-grained catalogue of permissions comes with access control;
// for now an administrator may do everything and a user may use their own account.
inline constexpr const char* kRoleAdmin = "admin";
inline constexpr const char* kRoleUser = "user";
bool IsValidRole(std::string_view role);

struct User {
  int64_t id = 0;
  std::string username;
  std::string display_name;
  std::string role;
  bool disabled = false;
  UnixMillis created_at = 0;
  UnixMillis updated_at = 0;
};

struct AccountPolicy {
  int password_min_length = 15;
  int password_max_length = 128;
  HashCost hash_cost = HashCost::kInteractive;
};

// User names: 1 to 64 characters from a-z, 0-9, '.', '_', '-', starting with a letter or digit;
// compared without regard to case. InvalidArgument with the rule otherwise.
Status CheckUsername(std::string_view username);

// Thread-safe (the Database serializes writes). Holds no state of its own but pointers, which
// must outlive it.
class Accounts {
 public:
  Accounts(storage::Database* db, const Clock* clock, AccountPolicy policy)
      : db_(db), clock_(clock), policy_(policy) {}

  // AlreadyExists when the name is taken (in any case); InvalidArgument for a bad name, role,
  // display name or a password the policy refuses.
  Result<User> Create(std::string_view username, std::string_view display_name,
                      std::string_view role, std::string_view password);

  // NotFound when there is no such user.
  Result<User> FindByName(std::string_view username);
  Result<User> FindById(int64_t id);

  // Every user, by name.
  Result<std::vector<User>> List();

  // Disabling also ends every session of the user. NotFound when there is no such user.
  Status SetDisabled(std::string_view username, bool disabled);

  // Sets a new password (policy checked) and ends every session of the user.
  Status ResetPassword(std::string_view username, std::string_view password);

  // Unauthenticated ("wrong user name or password") for an unknown name or a wrong password,
  // taking the same time either way; FailedPrecondition for a disabled account, said only to
  // someone who knew the password. Upgrades the stored hash when the cost preset changed.
  Result<User> Authenticate(std::string_view username, std::string_view password);

  const AccountPolicy& policy() const { return policy_; }

 private:
  storage::Database* const db_;
  const Clock* const clock_;
  const AccountPolicy policy_;
};

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_ACCOUNTS_H_
