// Evaluator throughput: alert_evaluator::evaluate() on one core (Google Benchmark), for
// the steady case (a condition still firing, nothing to send), a new condition (a notice
// with its sentence) and normal traffic. See docs/performance.md.
//
//   build/tests/bench/evaluation_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include "actors/alert_evaluator/evaluation.hpp"

#include <benchmark/benchmark.h>

namespace {

using namespace std::chrono_literals;

fw::traffic_event event(std::int64_t count) {
  return {"3f9d2e1b8c4a4d6fb1e25a7f8c2d9e4a", "mario.rossi@gmail.com", "LIRF", count,
          std::int64_t{400}, std::int64_t{100}, 1'795'000'000, 1'795'086'400};
}

void still_firing(benchmark::State& state) {
  auto ev = event(450);
  auto first = fw::alert_evaluator::evaluate(ev, std::nullopt, 0, 4h);
  std::int64_t now = 1;
  for (auto _ : state) {
    auto out = fw::alert_evaluator::evaluate(ev, first.next, now++, 4h);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(still_firing);

void starts_firing(benchmark::State& state) {
  auto ev = event(450);
  for (auto _ : state) {
    auto out = fw::alert_evaluator::evaluate(ev, std::nullopt, 0, 4h);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(starts_firing);

void normal_traffic(benchmark::State& state) {
  auto ev = event(250);
  for (auto _ : state) {
    auto out = fw::alert_evaluator::evaluate(ev, std::nullopt, 0, 4h);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(normal_traffic);

} // namespace

BENCHMARK_MAIN();
