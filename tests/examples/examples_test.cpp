// Every example of the Go -> spindle cheat sheet runs and prints what it promises.
#include <signal.h>

#include <string>

#include "support/spindle_test.hpp"
#include "support/subprocess.hpp"

TEST_SUITE_BEGIN("examples");

namespace {

spindle::test::Finished run_example(const std::string& name) {
  return spindle::test::run({std::string(SPINDLE_EXAMPLES_DIR) + "/" + name});
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

SPINDLE_TEST("go doWork()") {
  auto r = run_example("go_do_work");
  CHECK(r.code == 0);
  CHECK(has(r.output, "doing work in fiber\nmain: worker finished\n"));
}

SPINDLE_TEST("anonymous fiber") {
  auto r = run_example("anonymous_fiber");
  CHECK(r.code == 0);
  CHECK(has(r.output, "Running concurrently\n"));
}

SPINDLE_TEST("go process(data): arguments are evaluated at spawn") {
  auto r = run_example("go_with_arguments");
  CHECK(r.code == 0);
  CHECK(has(r.output, "main changed data to \"second batch\"\nprocessing \"first batch\"\n"));
}

SPINDLE_TEST("worker with context cancellation stops while blocked") {
  auto r = run_example("worker_cancel");
  CHECK(r.code == 0);
  CHECK(has(r.output, "worker: stopping (context canceled)"));
  CHECK(has(r.output, "promptly, while blocked"));
}

SPINDLE_TEST("wait for completion with a WaitGroup") {
  auto r = run_example("wait_group");
  CHECK(r.code == 0);
  CHECK(has(r.output, "all 5 workers done\n"));
}

SPINDLE_TEST("fan-out: workers over a jobs channel, results channel") {
  auto r = run_example("fan_out");
  CHECK(r.code == 0);
  CHECK(has(r.output, "100 jobs done; sum of squares = 338350\n"));
}

SPINDLE_TEST("pipeline with select and a timeout") {
  auto r = run_example("pipeline_select");
  CHECK(r.code == 0);
  CHECK(has(r.output, "got 1\ngot 4\ngot 9\ngot 16\ngot 25\n"));
  CHECK(has(r.output, "timeout: nothing within 50ms (context deadline exceeded)"));
  CHECK(has(r.output, "pipeline stopped\n"));
}

SPINDLE_TEST("task group: one failure cancels its siblings") {
  auto r = run_example("task_group");
  CHECK(r.code == 0);
  CHECK(has(r.output, "fetch users: cancelled (context canceled)"));
  CHECK(has(r.output, "fetch stock: cancelled (context canceled)"));
  CHECK(has(r.output, "group failed: fetch orders: connection refused; 2 sibling(s) cancelled"));
}

SPINDLE_TEST("a leaked fiber is reported by name, spawn line and await line; exit 3") {
  auto r = run_example("leak_report");
  CHECK(r.code == 3);
  CHECK(has(r.output, "leaked fiber"));
  CHECK(has(r.output, "\"forgotten worker\""));
  CHECK(has(r.output, "spawned at "));
  CHECK(has(r.output, "leak_report.cpp:18"));
  CHECK(has(r.output, "parked at "));
  CHECK(has(r.output, "leak_report.cpp:12"));
}

SPINDLE_TEST("the README's HTTP service runs, answers and stops cleanly on SIGTERM") {
  spindle::test::Subprocess p({std::string(SPINDLE_EXAMPLES_DIR) + "/http_service", "0"});
  REQUIRE(p.wait_for_output("listening on ", std::chrono::seconds(10)));
  const auto out = p.out();
  const auto port = std::stoi(out.substr(out.find("listening on ") + 13));
  auto user = spindle::test::run({"curl", "-sS", "http://127.0.0.1:" + std::to_string(port) + "/users/42"});
  CHECK(user.output == "user 42\n");
  auto upload = spindle::test::run({"curl", "-sS", "--data-binary", "abcdef", "http://127.0.0.1:" + std::to_string(port) + "/upload"});
  CHECK(upload.output == "{\"bytes\":6}\n");
  p.signal(SIGTERM);
  CHECK(p.wait(std::chrono::seconds(10)) == 0);
}

TEST_SUITE_END();
