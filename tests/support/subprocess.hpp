// Runs a program as a child process: its output, its exit status, signals to it.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace spindle::test {

/// A child process with stdout and stderr captured (into one stream, or two).
class Subprocess {
 public:
  /// Starts `argv` with `env` added to this process's environment.
  explicit Subprocess(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
                      bool merge_stderr = false);
  ~Subprocess();  // kills the child if it still runs
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  int pid() const noexcept { return pid_; }
  /// Sends `signal` to the child.
  void signal(int signal) const;
  /// Waits up to `timeout` for the child to exit; returns its exit code, 128 + the signal that
  /// killed it, or -1 on timeout (the child keeps running).
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  /// True while the child has not exited.
  bool running();
  /// Everything the child wrote to stdout (and stderr, if merged) so far.
  std::string out();
  /// Everything the child wrote to stderr so far (empty if merged).
  std::string err();
  /// Waits up to `timeout` until `text` appears in out() or err(); true if it did.
  bool wait_for_output(const std::string& text,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  void pump(int timeout_ms);
  int pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  std::string out_, err_;
  int status_ = -1;
  bool exited_ = false;
};

/// Runs `argv` to completion (up to `timeout`); returns {exit code, stdout+stderr}.
struct Finished {
  int code;
  std::string output;
};
Finished run(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
             std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace spindle::test
