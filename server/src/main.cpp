// spindle-server: config -> logging -> scheduler and services -> signals -> shutdown.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "spindle/config/config.hpp"
#include "spindle/log.hpp"
#include "spindle/server/server.hpp"

using namespace spindle;

namespace {

spdlog::level::level_enum to_level(const std::string& name) { return spdlog::level::from_str(name); }

log::Format to_format(config::LogFormat f) {
  if (f == config::LogFormat::text) return log::Format::text;
  if (f == config::LogFormat::json) return log::Format::json;
  return ::isatty(STDERR_FILENO) ? log::Format::text : log::Format::json;
}

/// Waits for SIGTERM/SIGINT on its own thread (the signals are blocked everywhere else): the
/// first starts the graceful shutdown, a second ends the process at once.
class SignalWatcher {
 public:
  explicit SignalWatcher(sigset_t set) : set_(set), thread_([this] { run(); }) { thread_.detach(); }
  /// Blocks until the first signal; returns it.
  int wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return signal_ != 0; });
    return signal_;
  }

 private:
  void run() {
    for (int count = 0;; ++count) {
      int sig = 0;
      if (sigwait(&set_, &sig) != 0) continue;
      if (count > 0) {
        spdlog::warn("second {}: exiting at once", strsignal(sig));
        spdlog::default_logger()->flush();
        ::_exit(server::exit_forced);
      }
      std::lock_guard lock(mu_);
      signal_ = sig;
      cv_.notify_all();
    }
  }
  sigset_t set_;
  std::mutex mu_;
  std::condition_variable cv_;
  int signal_ = 0;
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  // Block the shutdown signals before any thread starts, so they all inherit the mask and
  // only the watcher thread receives them.
  sigset_t shutdown_signals;
  sigemptyset(&shutdown_signals);
  sigaddset(&shutdown_signals, SIGTERM);
  sigaddset(&shutdown_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  config::Loaded loaded;
  try {
    loaded = config::load({argv + 1, argv + argc}, config::process_environment());
  } catch (const config::HelpRequested& help) {
    std::printf("usage: spindle-server [options]\n\n%s", help.what());
    return server::exit_ok;
  } catch (const config::ConfigError& e) {
    std::fprintf(stderr, "spindle-server: %s\n", e.what());
    return server::exit_bad_config;
  }
  if (loaded.print_config) {
    std::fputs(config::print_config(loaded).c_str(), stdout);
    return server::exit_ok;
  }
  log::setup(to_format(loaded.config.log_format), to_level(loaded.config.log_level));

  server::Server srv(loaded.config);
  try {
    srv.start();
  } catch (const tcp::BindError& e) {
    spdlog::error("{}", e.what());
    if (!::isatty(STDERR_FILENO)) std::fprintf(stderr, "spindle-server: %s\n", e.what());
    return server::exit_start_failed;
  } catch (const std::exception& e) {
    spdlog::error("cannot start: {}", e.what());
    return server::exit_start_failed;
  }
  spdlog::info("spindle-server ready ({} worker threads)", srv.scheduler().thread_count());

  SignalWatcher watcher(shutdown_signals);
  const int sig = watcher.wait();
  spdlog::info("{}: shutting down gracefully (grace {}; a second signal exits at once)",
               strsignal(sig), config::format_duration(loaded.config.shutdown_grace));
  const auto leaks = srv.shutdown();
  spdlog::default_logger()->flush();
  return leaks.empty() ? server::exit_ok : server::exit_leaked;
}
