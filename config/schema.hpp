#pragma once
// The table of every configuration key: how to parse it into `settings`, how to show it.
// One row per key keeps YAML, environment variables, printing and docs in step.

#include "config/settings.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace fw::config {

struct key_spec {
  std::string section;
  std::string key;
  bool secret = false;
  bool list = false;
  /// Parses `text` into the field; returns an error message ("expected ...") or "".
  std::function<std::string(settings&, const std::string& text)> assign;
  /// Renders the field for --check-config (unmasked; the printer masks secrets).
  std::function<std::string(const settings&)> show;

  std::string dotted() const {
    return section + "." + key;
  }
  /// FW_<SECTION>_<KEY>, upper case.
  std::string env_name() const;
};

/// Every key, grouped by section in the order the YAML file lists them.
const std::vector<key_spec>& schema();

} // namespace fw::config
