#include "actors/user_manager/validation.hpp"

#include "actors/common/text.hpp"

#include <algorithm>
#include <cctype>

namespace fw::user_manager {

namespace {

bool is_alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

/// A DNS host name with at least two labels: letters, digits and inner hyphens.
bool valid_domain(std::string_view domain) {
  if (domain.empty() || domain.size() > 253 || domain.find('.') == std::string_view::npos)
    return false;
  while (!domain.empty()) {
    auto dot = domain.find('.');
    auto label = domain.substr(0, dot);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    if (!std::all_of(label.begin(), label.end(), [](char c) { return is_alnum(c) || c == '-'; }))
      return false;
    if (dot == std::string_view::npos)
      break;
    domain.remove_prefix(dot + 1);
    if (domain.empty())
      return false; // trailing dot
  }
  return true;
}

/// The dot-atom local part of RFC 5322 (no quoted strings).
bool valid_local_part(std::string_view local) {
  static constexpr std::string_view specials = "!#$%&'*+/=?^_`{|}~-.";
  if (local.empty() || local.size() > 64 || local.front() == '.' || local.back() == '.'
      || local.find("..") != std::string_view::npos)
    return false;
  return std::all_of(local.begin(), local.end(), [](char c) {
    return is_alnum(c) || specials.find(c) != std::string_view::npos;
  });
}

std::optional<std::string> check_name(const char* field, std::string& value) {
  value = std::string{trim(value)};
  if (value.empty())
    return std::string{field} + " must not be empty";
  if (value.size() > max_name_length)
    return std::string{field} + " is longer than " + std::to_string(max_name_length)
           + " characters";
  if (has_control(value))
    return std::string{field} + " contains control characters";
  return std::nullopt;
}

} // namespace

std::string normalize_iban(std::string_view iban) {
  std::string out;
  for (char c : iban)
    if (c != ' ')
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::string> check_email(std::string_view email) {
  if (email.empty())
    return "email must not be empty";
  if (email.size() > max_email_length)
    return "email is longer than " + std::to_string(max_email_length) + " characters";
  auto at = email.rfind('@');
  if (at == std::string_view::npos || !valid_local_part(email.substr(0, at))
      || !valid_domain(email.substr(at + 1)))
    return "email is not a valid address";
  return std::nullopt;
}

std::optional<std::string> check_iban(std::string_view iban) {
  if (iban.size() < 15 || iban.size() > 34)
    return "iban must have 15 to 34 characters";
  if (!std::isalpha(static_cast<unsigned char>(iban[0]))
      || !std::isalpha(static_cast<unsigned char>(iban[1]))
      || !std::isdigit(static_cast<unsigned char>(iban[2]))
      || !std::isdigit(static_cast<unsigned char>(iban[3])))
    return "iban must start with a country code and two check digits";
  if (!std::all_of(iban.begin(), iban.end(), is_alnum))
    return "iban may contain only letters and digits";
  // Move the first four characters to the end, letters become 10..35, remainder mod 97.
  unsigned remainder = 0;
  auto feed = [&remainder](char c) {
    unsigned value = std::isdigit(static_cast<unsigned char>(c)) ? unsigned(c - '0')
                                                                 : unsigned(c - 'A' + 10);
    remainder = (remainder * (value >= 10 ? 100 : 10) + value) % 97;
  };
  for (char c : iban.substr(4))
    feed(c);
  for (char c : iban.substr(0, 4))
    feed(c);
  if (remainder != 1)
    return "iban has a wrong checksum";
  return std::nullopt;
}

std::optional<std::string> normalize_and_check(user& u) {
  u.email = normalize_email(u.email);
  if (auto err = check_email(u.email))
    return err;
  if (auto err = check_name("first_name", u.first_name))
    return err;
  if (auto err = check_name("last_name", u.last_name))
    return err;
  u.tax_code = to_upper(trim(u.tax_code));
  if (u.tax_code.size() > max_tax_code_length)
    return "tax_code is longer than " + std::to_string(max_tax_code_length) + " characters";
  if (!std::all_of(u.tax_code.begin(), u.tax_code.end(), is_alnum))
    return "tax_code may contain only letters and digits";
  u.iban = normalize_iban(u.iban);
  if (!u.iban.empty())
    if (auto err = check_iban(u.iban))
      return err;
  u.telegram_chat_id = caf::none; // set only through POST /users/telegram
  return std::nullopt;
}

std::optional<std::string> check_idempotency_key(std::string_view key) {
  if (key.size() > max_idempotency_key_length)
    return "Idempotency-Key is longer than " + std::to_string(max_idempotency_key_length)
           + " characters";
  if (!std::all_of(key.begin(), key.end(), [](char c) { return c > 0x20 && c < 0x7f; }))
    return "Idempotency-Key must be printable ASCII without spaces";
  return std::nullopt;
}

} // namespace fw::user_manager
