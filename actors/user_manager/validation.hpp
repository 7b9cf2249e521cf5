#pragma once
// Input rules of the user-manager. Each check returns the reason a value is rejected
// (the 400 message), or nothing when it is valid. Normalising functions make equal
// inputs compare equal in the database (e-mail case, IBAN spacing).

#include "actors/common/text.hpp"
#include "messages/types.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace fw::user_manager {

inline constexpr std::size_t max_name_length = 100;
inline constexpr std::size_t max_email_length = 254;
inline constexpr std::size_t max_tax_code_length = 32;
inline constexpr std::size_t max_idempotency_key_length = 255;

/// Spaces removed, upper case ("it60 x054..." → "IT60X054...").
std::string normalize_iban(std::string_view iban);

std::optional<std::string> check_email(std::string_view email);
/// ISO 13616: country code, check digits, 11–30 alphanumerics, mod-97 checksum == 1.
std::optional<std::string> check_iban(std::string_view normalized);

/// Normalises `u` in place and checks every field; the first problem found.
std::optional<std::string> normalize_and_check(user& u);

/// Printable ASCII, 1..255 characters.
std::optional<std::string> check_idempotency_key(std::string_view key);

} // namespace fw::user_manager
