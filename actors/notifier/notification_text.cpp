#include "actors/notifier/notification_text.hpp"

#include "actors/notifier/telegram_client.hpp"

#include <nlohmann/json.hpp>

#include <sstream>

namespace fw::notifier {

namespace {

std::string number(double x) {
  std::ostringstream out;
  out << x;
  return out.str();
}

} // namespace

text alert_text(const alert_notice& n) {
  std::string title;
  if (n.kind == "resolved")
    title = "Back to normal at ";
  else if (n.kind == "repeat")
    title = "Still busy at ";
  else
    title = "Traffic alert at ";
  if (n.kind != "resolved" && n.condition.find("below") != std::string::npos)
    title = n.kind == "repeat" ? "Still quiet at " : "Low traffic at ";
  text out;
  out.plain = title + n.airport_code + ": " + n.condition;
  out.html = "<b>" + html_escape(title + n.airport_code) + "</b>\n" + html_escape(n.condition);
  return out;
}

text breach_text(const nlohmann::json& breach) {
  const auto metric = breach.at("metric").get<std::string>();
  const auto observed = breach.at("observed_value").get<double>();
  const auto threshold = breach.at("threshold_violated").get<double>();
  const auto type = breach.at("breach_type").get<std::string>();
  const auto count = breach.at("violations_count").get<std::int64_t>();
  const std::string detail = "observed " + number(observed) + ", "
                             + (type == "low" ? "below the minimum " : "above the maximum ")
                             + number(threshold) + " (" + std::to_string(count)
                             + " violations)";
  text out;
  out.plain = "SLA breach: " + metric + " " + detail;
  out.html = "<b>SLA breach</b>: <code>" + html_escape(metric) + "</code> "
             + html_escape(detail);
  return out;
}

} // namespace fw::notifier
