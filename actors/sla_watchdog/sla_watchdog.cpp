#include "actors/sla_watchdog/sla_watchdog.hpp"

#include "actors/common/exceptions.hpp"
#include "actors/common/log.hpp"
#include "actors/common/text.hpp"
#include "actors/common/topic_broker.hpp"
#include "actors/sla_watchdog/prober.hpp"
#include "actors/sla_watchdog/prometheus_api.hpp"
#include "actors/sla_watchdog/sla_rules.hpp"
#include "config/sla_document.hpp"
#include "messages/errors.hpp"
#include "messages/interfaces.hpp"
#include "messages/json.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <map>
#include <set>
#include <utility>

namespace fw {

namespace {

using namespace std::chrono;
using nlohmann::json;

/// One Prometheus call never takes longer (a check of N metrics at most N times this).
constexpr duration max_probe_timeout{seconds{5}};

/// What the watchdog knows about one metric, kept (with its counts) while it is watched
/// and, for the stats, after it was removed from the document.
struct metric_record {
  sla::metric_window window;
  std::optional<double> last_value;
  std::string last_failure; // why the last check gave no sample; "" after a sample
  std::uint64_t query_failures = 0;
  std::uint64_t low = 0;
  std::uint64_t high = 0;
  json last_breach;                      // null until the first breach
  prometheus::Gauge* observed = nullptr; // null while not watched
};

struct watchdog_state {
  static constexpr const char* name = "sla-watchdog";
  node_context_ptr ctx;
  sla_document doc;               // as applied: t_check already at least 5 x scrape
  std::optional<duration> scrape; // Prometheus' scrape interval, once read
  std::map<std::string, metric_record> records;
  prometheus_prober_actor checker;    // the periodic checks
  prometheus_prober_actor validator;  // updates, so they never wait behind a slow check
  std::uint64_t document_version = 0; // answers for an older document are dropped
  std::uint64_t timer = 0;            // only the latest scheduled check runs
  bool checking = false;
  bool check_again = false; // a check was asked for while one ran for an older document
  std::uint64_t checks = 0;
  std::string prometheus_problem; // why the last check could not read Prometheus
  // Queries Prometheus at accepted_url has evaluated without rejecting them (at a check or
  // an update): an update does not send them again, only new or changed ones.
  std::string accepted_url;
  std::set<std::string> accepted_queries;
  double started_at = 0;
  prometheus::Counter* checks_total = nullptr;
  prometheus::Family<prometheus::Counter>* query_failures = nullptr;
  prometheus::Family<prometheus::Counter>* breaches = nullptr;
  prometheus::Family<prometheus::Gauge>* observed = nullptr;

  prometheus::Labels labels(const std::string& metric) const {
    auto l = ctx->metrics->labels("sla_watchdog");
    l.emplace("metric", metric);
    return l;
  }
};

using watchdog_impl = sla_watchdog_actor::extend<caf::reacts_to<check_atom, std::uint64_t>>;
using self_pointer = watchdog_impl::stateful_pointer<watchdog_state>;

double unix_seconds() {
  return duration_cast<std::chrono::duration<double>>(system_clock::now().time_since_epoch())
      .count();
}

std::string seconds_text(duration d) {
  auto ms = d.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

/// Makes `doc`'s metrics the watched ones: histories survive only where the metric's
/// query and range are unchanged; gauges of metrics no longer watched are removed.
void apply_document(self_pointer self, sla_document doc) {
  auto& st = self->state;
  std::map<std::string, const sla_metric*> old;
  for (const auto& m : st.doc.metrics)
    old[m.name] = &m;
  for (auto& [name, rec] : st.records) {
    auto keep = std::find_if(doc.metrics.begin(), doc.metrics.end(), [&](const sla_metric& m) {
      return m.name == name && old.count(name) && *old.at(name) == m;
    });
    if (keep == doc.metrics.end())
      rec.window = {};
    bool watched = std::any_of(doc.metrics.begin(), doc.metrics.end(),
                               [&](const sla_metric& m) { return m.name == name; });
    if (!watched && rec.observed) {
      st.observed->Remove(rec.observed);
      rec.observed = nullptr;
      rec.last_value.reset();
    }
  }
  st.doc = std::move(doc);
  for (const auto& m : st.doc.metrics)
    st.records[m.name]; // listed in the stats from now on
  ++st.document_version;
}

/// Schedules the next check one t_check from now (or at once), replacing any other.
void schedule_check(self_pointer self, bool now = false) {
  auto& st = self->state;
  ++st.timer;
  if (now)
    self->send(self, check_atom::value, st.timer);
  else
    self->delayed_send(self, st.doc.t_check, check_atom::value, st.timer);
}

/// Raises t_check to 5 x the scrape interval when it is lower (logged).
void enforce_scrape_rule(self_pointer self) {
  auto& st = self->state;
  if (!st.scrape || st.doc.t_check >= sla::min_t_check(*st.scrape))
    return;
  auto raised = sla::min_t_check(*st.scrape);
  log::warn(watchdog_state::name, "t_check ", seconds_text(st.doc.t_check), " raised to ",
            seconds_text(raised), ": at least ", sla::scrape_factor,
            " x Prometheus' scrape interval (", seconds_text(*st.scrape), ")");
  st.doc.t_check = raised;
  schedule_check(self);
}

void read_scrape_interval(self_pointer self) {
  auto& st = self->state;
  auto version = st.document_version;
  self->request(st.checker, max_probe_timeout + seconds{1}, scrape_interval_atom::value,
                st.doc.prometheus_url)
      .then(
          [self, version](std::int64_t ms) {
            auto& st = self->state;
            if (version != st.document_version)
              return;
            st.scrape = duration{ms};
            log::info(watchdog_state::name, "Prometheus scrapes every ", seconds_text(*st.scrape));
            enforce_scrape_rule(self);
          },
          [](caf::error&) {
            // Still unknown: read again at the next check; the check itself reports why.
          });
}

void publish_breach(self_pointer self, const sla_metric& m, metric_record& rec,
                    const sla::breach& b) {
  auto& st = self->state;
  auto event = sla::breach_event(m, b, "sla-" + random_hex_id(12), unix_seconds());
  (b.type == "low" ? rec.low : rec.high) += 1;
  rec.last_breach = event;
  auto labels = st.labels(m.name);
  labels.emplace("breach_type", b.type);
  st.breaches->Add(labels).Increment();
  log::warn(watchdog_state::name, "SLA breach: ", m.name, " ", b.type, ", observed ", b.observed,
            ", threshold ", b.threshold, " (", b.violations, " of the last samples)");
  auto topics = caf::actor_cast<topic_broker_actor>(st.ctx->directory->get("topics"));
  if (!topics) {
    log::error(watchdog_state::name, "topics are not running: breach of ", m.name, " lost");
    return;
  }
  self->request(topics, st.ctx->cfg.storage.timeout, publish_atom::value,
                std::string{topic_sla_breach}, m.name, event.dump())
      .then([] {},
            [name = m.name](caf::error& err) {
              log::error(watchdog_state::name, "publishing the breach of ", name,
                         " failed: ", message_of(err));
            });
}

void record_samples(self_pointer self, const std::vector<prometheus_sample>& samples) {
  auto& st = self->state;
  ++st.checks;
  st.checks_total->Increment();
  std::string problem;
  for (size_t i = 0; i < st.doc.metrics.size() && i < samples.size(); ++i) {
    const auto& m = st.doc.metrics[i];
    const auto& s = samples[i];
    auto& rec = st.records[m.name];
    if (s.outcome == "value") {
      rec.last_value = s.value;
      rec.last_failure.clear();
      if (!rec.observed)
        rec.observed = &st.observed->Add(st.labels(m.name));
      rec.observed->Set(s.value);
      if (auto b = sla::record_sample(rec.window, m, s.value))
        publish_breach(self, m, rec, *b);
      continue;
    }
    ++rec.query_failures;
    st.query_failures->Add(st.labels(m.name)).Increment();
    if (s.outcome == "unreachable")
      problem = s.error;
    else if (s.error != rec.last_failure)
      log::warn(watchdog_state::name, "metric ", m.name, " has no sample: ", s.error);
    rec.last_failure = s.error;
  }
  if (problem != st.prometheus_problem) {
    if (problem.empty())
      log::info(watchdog_state::name, "Prometheus answers again");
    else
      log::warn(watchdog_state::name, problem);
    st.prometheus_problem = problem;
  }
}

void note_accepted(watchdog_state& st, const std::string& url,
                   const std::vector<std::string>& queries,
                   const std::vector<prometheus_sample>& samples) {
  if (url != st.accepted_url) {
    st.accepted_url = url;
    st.accepted_queries.clear();
  }
  for (size_t i = 0; i < samples.size() && i < queries.size(); ++i)
    if (samples[i].outcome != "bad_query" && samples[i].outcome != "unreachable")
      st.accepted_queries.insert(queries[i]);
}

void run_check(self_pointer self) {
  auto& st = self->state;
  if (st.checking) { // the previous check still waits for a slow Prometheus
    // Its answer is dropped if the document changed meanwhile: check again right after.
    st.check_again = true;
    return;
  }
  if (!st.scrape)
    read_scrape_interval(self);
  std::vector<std::string> queries;
  for (const auto& m : st.doc.metrics)
    queries.push_back(m.query);
  if (queries.empty()) {
    record_samples(self, {});
    return;
  }
  st.checking = true;
  auto version = st.document_version;
  auto timeout = max_probe_timeout * static_cast<int>(queries.size() + 1);
  self->request(st.checker, timeout, sample_atom::value, st.doc.prometheus_url, queries)
      .then(
          [self, version, queries, url = st.doc.prometheus_url](
              std::vector<prometheus_sample>& samples) {
            auto& st = self->state;
            st.checking = false;
            note_accepted(st, url, queries, samples);
            if (version == st.document_version)
              record_samples(self, samples);
            if (std::exchange(st.check_again, false) && version != st.document_version)
              run_check(self);
          },
          [self](caf::error& err) {
            auto& st = self->state;
            st.checking = false;
            log::warn(watchdog_state::name, "a check failed: ", message_of(err));
            if (std::exchange(st.check_again, false))
              run_check(self);
          });
}

command_reply update_failed(std::uint16_t status, const std::string& why) {
  return {status, error_body("Update failed", why), false};
}

json config_body(const watchdog_state& st) {
  auto body = sla_to_json(st.doc);
  auto& settings = body["settings"];
  settings["t_scrape"] =
      st.scrape ? json(static_cast<double>(st.scrape->count()) / 1000.0) : json(nullptr);
  settings["kafka_bootstrap_servers"] = st.ctx->cfg.kafka.brokers;
  settings["kafka_topic"] = topic_sla_breach;
  return body;
}

/// The 200 of an update: what GET now answers, and the notes when there are any.
command_reply update_reply(const watchdog_state& st, const std::vector<std::string>& notes) {
  json reply{{"message", "SLA configuration updated"}, {"config", config_body(st)}};
  if (!notes.empty())
    reply["notes"] = notes;
  return command_reply{200, reply.dump(), false};
}

/// POST /sla/config: validate the fields, then against Prometheus (scrape rule, PromQL),
/// then apply. Prometheus' verdict is needed: without it the update is refused (503).
/// The document in force posted again (a reconciler re-applying it) changes nothing, so
/// it needs no verdict.
caf::result<command_reply> update_config(self_pointer self, const std::string& text) {
  auto& st = self->state;
  json body;
  try {
    body = json::parse(text);
  } catch (const json::exception& e) {
    return update_failed(400, std::string{"the body is not valid JSON: "} + e.what());
  }
  auto parsed = sla_from_json(body, st.doc);
  if (!parsed.value)
    return update_failed(400, parsed.error);
  std::vector<std::string> notes;
  if (body.contains("settings") && body["settings"].contains("kafka_bootstrap_servers") &&
      body["settings"]["kafka_bootstrap_servers"] != st.ctx->cfg.kafka.brokers)
    notes.push_back("settings.kafka_bootstrap_servers is not changed here: breaches go "
                    "through the node's topics (kafka.brokers)");
  if (*parsed.value == st.doc) {
    notes.push_back("the document is the one in force: nothing was changed");
    return update_reply(st, notes);
  }
  auto doc = std::make_shared<sla_document>(std::move(*parsed.value));
  auto rp = self->make_response_promise<command_reply>();
  self->request(st.validator, max_probe_timeout + seconds{1}, scrape_interval_atom::value,
                doc->prometheus_url)
      .then(
          [self, rp, doc, notes](std::int64_t scrape_ms) mutable {
            const duration scrape{scrape_ms};
            if (doc->t_check < sla::min_t_check(scrape)) {
              rp.deliver(update_failed(400, "settings.t_check: " + seconds_text(doc->t_check) +
                                                " is below " + std::to_string(sla::scrape_factor) +
                                                " x Prometheus' scrape interval (" +
                                                seconds_text(scrape) + "); at least " +
                                                seconds_text(sla::min_t_check(scrape))));
              return;
            }
            // Only what this Prometheus has not accepted yet (new or changed queries).
            const auto& st = self->state;
            const bool same_url = doc->prometheus_url == st.accepted_url;
            std::vector<std::string> queries;
            std::vector<size_t> index; // of each query in doc->metrics
            for (size_t i = 0; i < doc->metrics.size(); ++i)
              if (!same_url || !st.accepted_queries.count(doc->metrics[i].query)) {
                queries.push_back(doc->metrics[i].query);
                index.push_back(i);
              }
            auto timeout = max_probe_timeout * static_cast<int>(queries.size() + 1);
            self->request(self->state.validator, timeout, sample_atom::value, doc->prometheus_url,
                          queries)
                .then(
                    [self, rp, doc, notes, scrape, queries,
                     index](std::vector<prometheus_sample>& samples) mutable {
                      note_accepted(self->state, doc->prometheus_url, queries, samples);
                      for (size_t i = 0; i < samples.size() && i < index.size(); ++i) {
                        const auto where = "metrics[" + std::to_string(index[i]) + "].query";
                        if (samples[i].outcome == "bad_query") {
                          rp.deliver(update_failed(
                              400, where + ": Prometheus rejects it: " + samples[i].error));
                          return;
                        }
                        if (samples[i].outcome == "unreachable") {
                          rp.deliver(update_failed(503, samples[i].error));
                          return;
                        }
                      }
                      auto& st = self->state;
                      apply_document(self, std::move(*doc));
                      st.scrape = scrape;
                      log::info(watchdog_state::name,
                                "SLA configuration updated: ", st.doc.metrics.size(),
                                " metric(s), t_check ", seconds_text(st.doc.t_check));
                      schedule_check(self, true);
                      rp.deliver(update_reply(st, notes));
                    },
                    [rp](caf::error& err) mutable {
                      rp.deliver(update_failed(503, "the queries could not be checked against "
                                                    "Prometheus: " +
                                                        message_of(err)));
                    });
          },
          [rp](caf::error& err) mutable {
            rp.deliver(update_failed(503, "Prometheus' scrape interval could not be read, so "
                                          "t_check cannot be checked: " +
                                              message_of(err)));
          });
  return rp;
}

json stats_body(const watchdog_state& st) {
  json metrics = json::object();
  for (const auto& [name, rec] : st.records) {
    bool watched = std::any_of(st.doc.metrics.begin(), st.doc.metrics.end(),
                               [&](const sla_metric& m) { return m.name == name; });
    metrics[name] = {
        {"low", rec.low},
        {"high", rec.high},
        {"total", rec.low + rec.high},
        {"watched", watched},
        {"samples", json(std::vector<double>(rec.window.samples.begin(), rec.window.samples.end()))},
        {"last_value", rec.last_value ? json(*rec.last_value) : json(nullptr)},
        {"query_failures", rec.query_failures},
        {"last_failure", rec.last_failure.empty() ? json(nullptr) : json(rec.last_failure)},
        {"last_breach", rec.last_breach},
    };
  }
  return {{"since", st.started_at}, {"checks", st.checks}, {"metrics", std::move(metrics)}};
}

component_health health(const watchdog_state& st) {
  std::string detail;
  if (!st.prometheus_problem.empty()) {
    detail = st.prometheus_problem;
  } else {
    std::vector<std::string> failing;
    for (const auto& m : st.doc.metrics)
      if (auto it = st.records.find(m.name);
          it != st.records.end() && !it->second.last_failure.empty())
        failing.push_back(m.name + " (" + it->second.last_failure + ")");
    for (const auto& f : failing)
      detail += (detail.empty() ? "no sample for " : ", ") + f;
  }
  // Ready even when Prometheus is down: the node serves users regardless, and a node
  // taken out of service for a monitoring outage would help nobody.
  return component_health{watchdog_state::name, true, detail};
}

watchdog_impl::behavior_type sla_watchdog(self_pointer self, node_context_ptr ctx) {
  log_exceptions(self, watchdog_state::name);
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.started_at = unix_seconds();
  auto& registry = st.ctx->metrics->registry();
  st.checks_total = &prometheus::BuildCounter()
                         .Name("sla_checks_total")
                         .Help("SLA checks run (each samples every watched metric once)")
                         .Register(registry)
                         .Add(st.ctx->metrics->labels("sla_watchdog"));
  st.query_failures = &prometheus::BuildCounter()
                           .Name("sla_query_failures_total")
                           .Help("SLA metric queries that gave no sample (Prometheus down, "
                                 "rejected query, empty result, NaN)")
                           .Register(registry);
  st.breaches = &prometheus::BuildCounter()
                     .Name("sla_breaches_total")
                     .Help("SLA breaches by metric and type (low, high)")
                     .Register(registry);
  st.observed = &prometheus::BuildGauge()
                     .Name("sla_observed_value")
                     .Help("Last value sampled per watched SLA metric")
                     .Register(registry);
  st.checker = spawn_prometheus_prober(self->system(), max_probe_timeout);
  st.validator = spawn_prometheus_prober(self->system(), max_probe_timeout);
  self->link_to(st.checker);
  self->link_to(st.validator);
  apply_document(self, st.ctx->cfg.sla.document ? *st.ctx->cfg.sla.document : sla_document{});
  if (st.doc.metrics.empty())
    log::info(watchdog_state::name, "no SLA metric is watched (sla.config_file is empty)");
  schedule_check(self, true);
  return {
      [self](ping_atom) { return self->state.ctx->make_pong(watchdog_state::name); },
      [self](health_atom) { return health(self->state); },
      [self](check_atom, std::uint64_t timer) {
        if (timer != self->state.timer)
          return;
        schedule_check(self);
        run_check(self);
      },
      [self](sla_config_atom) { return config_body(self->state).dump(); },
      [self](update_sla_config_atom, const std::string& body) { return update_config(self, body); },
      [self](breach_stats_atom) { return stats_body(self->state).dump(); },
  };
}

} // namespace

caf::actor spawn_sla_watchdog(caf::actor_system& sys, const node_context_ptr& ctx) {
  return caf::actor_cast<caf::actor>(sys.spawn(sla_watchdog, ctx));
}

} // namespace fw
