#include "support/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <map>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace spindle::test {
namespace {

void make_pipe(int fds[2]) {
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
}

}  // namespace

Subprocess::Subprocess(std::vector<std::string> argv, std::map<std::string, std::string> env,
                       bool merge_stderr) {
  // Everything the child needs is built before fork: a child of a multi-threaded process may
  // call only async-signal-safe functions until it execs, and allocating there can deadlock
  // on a lock another thread held at the fork (seen under ThreadSanitizer).
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  std::map<std::string, std::string> merged;
  for (char** e = environ; *e; ++e) {
    const std::string_view entry(*e);
    const auto eq = entry.find('=');
    merged[std::string(entry.substr(0, eq))] = eq == std::string_view::npos ? "" : std::string(entry.substr(eq + 1));
  }
  for (auto& [k, v] : env) merged[k] = v;
  std::vector<std::string> env_entries;
  for (auto& [k, v] : merged) env_entries.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_entries) envp.push_back(e.data());
  envp.push_back(nullptr);
  // execvp's PATH search is not async-signal-safe either: resolve the program here.
  std::string program = argv.at(0);
  if (program.find('/') == std::string::npos) {
    const char* path = std::getenv("PATH");
    std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    while (!dirs.empty()) {
      const auto colon = dirs.find(':');
      const std::string candidate = std::string(dirs.substr(0, colon)) + "/" + program;
      if (::access(candidate.c_str(), X_OK) == 0) {
        program = candidate;
        break;
      }
      if (colon == std::string_view::npos) break;
      dirs.remove_prefix(colon + 1);
    }
  }

  int out[2], err[2] = {-1, -1};
  make_pipe(out);
  if (!merge_stderr) make_pipe(err);
  pid_ = ::fork();
  if (pid_ < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid_ == 0) {
    ::dup2(out[1], 1);
    ::dup2(merge_stderr ? out[1] : err[1], 2);
    ::execve(program.c_str(), args.data(), envp.data());
    ::_exit(127);
  }
  ::close(out[1]);
  out_fd_ = out[0];
  if (!merge_stderr) {
    ::close(err[1]);
    err_fd_ = err[0];
  }
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && !exited_) {
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
  if (err_fd_ >= 0) ::close(err_fd_);
}

void Subprocess::signal(int sig) const {
  if (!exited_) ::kill(pid_, sig);
}

void Subprocess::pump(int timeout_ms) {
  pollfd fds[2];
  int n = 0;
  if (out_fd_ >= 0) fds[n++] = {out_fd_, POLLIN, 0};
  if (err_fd_ >= 0) fds[n++] = {err_fd_, POLLIN, 0};
  if (n == 0) {
    if (timeout_ms > 0) ::usleep(static_cast<useconds_t>(timeout_ms) * 1000);
    return;
  }
  if (::poll(fds, static_cast<nfds_t>(n), timeout_ms) <= 0) return;
  for (int i = 0; i < n; ++i) {
    if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
    char buf[65536];
    const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
    std::string& dest = fds[i].fd == out_fd_ ? out_ : err_;
    if (got > 0) {
      dest.append(buf, static_cast<std::size_t>(got));
    } else {
      int& fd = fds[i].fd == out_fd_ ? out_fd_ : err_fd_;
      ::close(fd);
      fd = -1;
    }
  }
}

bool Subprocess::running() {
  if (exited_) return false;
  int status;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    exited_ = true;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

int Subprocess::wait(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= until) return -1;
    pump(10);
  }
  while (out_fd_ >= 0 || err_fd_ >= 0) pump(100);  // the rest of the output
  return status_;
}

std::string Subprocess::out() {
  pump(0);
  return out_;
}

std::string Subprocess::err() {
  pump(0);
  return err_;
}

bool Subprocess::wait_for_output(const std::string& text, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    pump(10);
    if (out_.find(text) != std::string::npos || err_.find(text) != std::string::npos) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    if (!running() && out_fd_ < 0 && err_fd_ < 0) return false;
  }
}

Finished run(std::vector<std::string> argv, std::map<std::string, std::string> env,
             std::chrono::milliseconds timeout) {
  Subprocess p(std::move(argv), std::move(env), true);
  const int code = p.wait(timeout);
  return {code, p.out()};
}

}  // namespace spindle::test
