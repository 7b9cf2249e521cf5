// The user-manager's input rules: what a 400 names, and how inputs are normalised so the
// same person is one row (e-mail case, IBAN spacing, tax code case). Also the request
// fingerprint that binds an Idempotency-Key to one request.

#include "actors/common/text.hpp"
#include "actors/user_manager/idempotent_command.hpp"
#include "actors/user_manager/validation.hpp"

#include <gtest/gtest.h>

namespace {

using namespace fw::user_manager;

fw::user valid_user() {
  return {"mario.rossi@gmail.com", "Mario", "Rossi", "RSSMRA85D15Z404E",
          "IT19Z1234567890000123456789", caf::none};
}

TEST(user_validation, accepts_the_seed_collection_user) {
  auto u = valid_user();
  EXPECT_EQ(normalize_and_check(u), std::nullopt);
}

TEST(user_validation, email_is_trimmed_and_lower_cased) {
  EXPECT_EQ(fw::normalize_email("  Mario.Rossi@GMail.COM "), "mario.rossi@gmail.com");
  auto u = valid_user();
  u.email = " Mario.Rossi@Gmail.com";
  ASSERT_EQ(normalize_and_check(u), std::nullopt);
  EXPECT_EQ(u.email, "mario.rossi@gmail.com");
}

TEST(user_validation, rejects_malformed_addresses) {
  for (auto bad : {"", "plain", "@x.io", "a@", "a@b", "a@.io", "a@b..io", "a@-b.io", "a b@x.io",
                   ".a@x.io", "a.@x.io", "a..b@x.io", "a@b_c.io", "a@x.io."})
    EXPECT_NE(check_email(bad), std::nullopt) << bad;
  for (auto good : {"a@b.io", "first.last+tag@sub.example.co.uk", "o'neil@x.ie", "x-y@a-b.c0m"})
    EXPECT_EQ(check_email(good), std::nullopt) << good;
  EXPECT_NE(check_email(std::string(250, 'a') + "@x.io"), std::nullopt);
}

TEST(user_validation, iban_checksum_and_shape) {
  EXPECT_EQ(check_iban("IT60X0542811101000000123456"), std::nullopt);
  EXPECT_EQ(check_iban("DE89370400440532013000"), std::nullopt);
  EXPECT_EQ(check_iban("GB82WEST12345698765432"), std::nullopt);
  EXPECT_NE(check_iban("IT61X0542811101000000123456"), std::nullopt); // one digit off
  EXPECT_NE(check_iban("GB82WEST12345698765433"), std::nullopt);
  EXPECT_NE(check_iban("IT60"), std::nullopt);
  EXPECT_NE(check_iban("1T60X0542811101000000123456"), std::nullopt);
  EXPECT_NE(check_iban("IT60X05428111010000001234-6"), std::nullopt);
  EXPECT_EQ(normalize_iban("it60 x054 2811 1010 0000 0123 456"), "IT60X0542811101000000123456");
}

TEST(user_validation, names_and_tax_code) {
  auto u = valid_user();
  u.first_name = "   ";
  EXPECT_EQ(normalize_and_check(u), "first_name must not be empty");
  u = valid_user();
  u.last_name = std::string(101, 'x');
  EXPECT_EQ(normalize_and_check(u), "last_name is longer than 100 characters");
  u = valid_user();
  u.last_name = "Ros\nsi";
  EXPECT_EQ(normalize_and_check(u), "last_name contains control characters");
  u = valid_user();
  u.tax_code = " rssmra85d15z404e ";
  ASSERT_EQ(normalize_and_check(u), std::nullopt);
  EXPECT_EQ(u.tax_code, "RSSMRA85D15Z404E");
  u.tax_code = "RSS MRA";
  EXPECT_NE(normalize_and_check(u), std::nullopt);
}

TEST(user_validation, a_chat_id_in_a_new_user_is_ignored) {
  auto u = valid_user();
  u.telegram_chat_id = 42;
  ASSERT_EQ(normalize_and_check(u), std::nullopt);
  EXPECT_FALSE(u.telegram_chat_id);
}

TEST(user_validation, idempotency_keys_are_printable_and_bounded) {
  EXPECT_EQ(check_idempotency_key("3f9d2e1b-8c4a-4d6f-b1e2-5a7f8c2d9e4a"), std::nullopt);
  EXPECT_NE(check_idempotency_key("has space"), std::nullopt);
  EXPECT_NE(check_idempotency_key("tab\there"), std::nullopt);
  EXPECT_NE(check_idempotency_key(std::string(256, 'k')), std::nullopt);
}

TEST(user_validation, fingerprints_separate_operations_and_inputs) {
  auto a = request_fingerprint("POST /users", R"({"email":"a@b.io"})");
  EXPECT_EQ(a.size(), 64u);
  EXPECT_EQ(a, request_fingerprint("POST /users", R"({"email":"a@b.io"})"));
  EXPECT_NE(a, request_fingerprint("DELETE /users", R"({"email":"a@b.io"})"));
  EXPECT_NE(a, request_fingerprint("POST /users", R"({"email":"c@b.io"})"));
  EXPECT_NE(new_claim_token(), new_claim_token());
}

// Keys stored by earlier versions hold this fingerprint: SHA-256 of "<operation>\n<input>".
TEST(user_validation, fingerprint_is_the_sha256_of_operation_newline_input) {
  EXPECT_EQ(request_fingerprint("POST /users", R"({"email":"a@b.io"})"),
            "ea8b0ab6f6a104dbc449e01ecf3cd5008dbef0e82eee7c75161c7605a838d647");
  EXPECT_EQ(fw::sha256_hex({}),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

} // namespace
