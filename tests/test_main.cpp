// The doctest runner of the suite. Besides the per-case fixture (SPINDLE_TEST), a listener
// checks for leaked fibers after every test case — also those written with a plain
// TEST_CASE — and makes the run fail when one leaked.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>

#include "spindle/testing.hpp"

namespace {

std::atomic<int> cases_with_leaks{0};

struct LeakListener : doctest::IReporter {
  explicit LeakListener(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {
    auto leaks = spindle::testing::take_leaks();
    if (leaks.empty()) return;
    ++cases_with_leaks;
    std::fprintf(stderr, "LEAK after test case \"%s\": %s\n", current_ ? current_ : "?",
                 spindle::testing::describe_leaks(leaks).c_str());
  }
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
  const char* current_ = nullptr;
};

}  // namespace

DOCTEST_REGISTER_LISTENER("spindle-leaks", 1, LeakListener);

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  doctest::Context context(argc, argv);
  int rc = context.run();
  if (context.shouldExit()) return rc;
  if (cases_with_leaks > 0) {
    std::fprintf(stderr, "%d test case(s) leaked fibers\n", cases_with_leaks.load());
    return rc ? rc : 1;
  }
  return rc;
}
