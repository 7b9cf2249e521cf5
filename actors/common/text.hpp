#pragma once
// Small text helpers shared by the roles' input rules.

#include <initializer_list>
#include <string>
#include <string_view>

namespace fw {

/// Without leading and trailing blanks (space, tab, CR, LF).
std::string_view trim(std::string_view s);
std::string to_lower(std::string_view s);
std::string to_upper(std::string_view s);
/// E-mail addresses are matched case-insensitively: trimmed and lower-cased.
std::string normalize_email(std::string_view email);
/// `size` bytes as lower-case hex.
std::string to_hex(const unsigned char* data, std::size_t size);
/// A fresh random identifier: `bytes` random bytes as lower-case hex (event ids, tokens).
std::string random_hex_id(std::size_t bytes = 16);
/// The SHA-256 of the parts, one after the other, as lower-case hex.
std::string sha256_hex(std::initializer_list<std::string_view> parts);
/// Loads OpenSSL's SHA-256 and seeds its random generator now. Their first use takes 1-3 ms
/// each; a node does this at start, so that its first requests (an actor on a scheduler
/// thread) do not wait for it.
void prepare_crypto();

} // namespace fw
