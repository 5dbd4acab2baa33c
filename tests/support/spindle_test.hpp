// Shared test support: every spindle test case checks that it leaked no fiber.
#pragma once

#include <doctest/doctest.h>

#include "spindle/testing.hpp"

namespace spindle::test {

/// Fixture of SPINDLE_TEST: forgets leaks of earlier cases on entry, and on exit fails the
/// case, naming each fiber, if any fiber it started is still alive or was reported leaked.
struct LeakCheck {
  LeakCheck() { spindle::testing::take_leaks(); }
  ~LeakCheck() {
    std::string problem;
    try {
      spindle::testing::verify_no_leaks();
    } catch (const std::exception& e) {
      problem = e.what();
    }
    CHECK_MESSAGE(problem.empty(), problem);
  }
  LeakCheck(const LeakCheck&) = delete;
  LeakCheck& operator=(const LeakCheck&) = delete;
};

}  // namespace spindle::test

/// A doctest test case that also fails if it leaks a fiber.
#define SPINDLE_TEST(name) TEST_CASE_FIXTURE(spindle::test::LeakCheck, name)
