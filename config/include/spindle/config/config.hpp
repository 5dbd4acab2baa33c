// spindle-server's configuration: one schema, four sources in rising precedence — built-in
// defaults < TOML file (--config) < environment (SPINDLE_*) < command-line flags.
#pragma once

#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "spindle/config/values.hpp"

namespace spindle::config {

using namespace std::chrono_literals;

enum class LogFormat { automatic, text, json };
enum class AcceptMode { reuseport, shared };

/// The TCP echo service.
struct EchoConfig {
  bool enabled = true;
  Endpoint listen{"0.0.0.0", 7007};
  Duration idle_timeout = 5min;      ///< a connection silent this long is closed; 0: never
  std::size_t max_connections = 10'000;
};

/// The HTTP service: address, limits and timeouts.
struct HttpConfig {
  bool enabled = true;
  Endpoint listen{"0.0.0.0", 8080};
  std::size_t max_connections = 10'000;
  Duration header_timeout = 10s;   ///< first byte to end of head (slowloris)
  Duration idle_timeout = 60s;     ///< keep-alive wait between requests
  Duration body_timeout = 30s;     ///< one body read
  Duration request_timeout = 30s;  ///< a request's deadline (its context ends then)
  Duration write_timeout = 30s;    ///< writing to a client that does not read
  std::uint64_t max_request_line = 8 * 1024;
  std::uint64_t max_header_bytes = 16 * 1024;
  std::uint64_t max_headers = 100;
  std::uint64_t max_body = 8 * 1024 * 1024;
  bool access_log = true;
};

/// Everything spindle-server can be told.
struct ServerConfig {
  unsigned threads = 0;               ///< worker threads; 0: one per usable CPU (spindle::available_cpus())
  FineDuration idle_spin = 20us;      ///< how long an idle worker polls before it sleeps (SchedulerOptions)
  Duration shutdown_grace = 10s;      ///< time open connections get to finish on SIGTERM
  std::string log_level = "info";
  LogFormat log_format = LogFormat::automatic;  ///< automatic: text on a terminal, else JSON
  AcceptMode accept_mode = AcceptMode::reuseport;
  EchoConfig echo;
  HttpConfig http;
};

/// Where a value came from.
struct Source {
  enum Kind { defaults, file, environment, flag } kind = defaults;
  std::string where;  ///< the file path, the variable, or the flag
  /// "default", "file spindle.toml", "environment SPINDLE_ECHO", "flag --echo".
  std::string describe() const;
};

/// Invalid configuration: the message names the key, the source and the problem. The server
/// exits with code 2 on it, before binding anything.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// `--help` was given; what() is the help text. The server prints it and exits 0.
class HelpRequested : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The effective configuration and where each key's value came from.
struct Loaded {
  ServerConfig config;
  std::map<std::string, Source> sources;  ///< by key name, e.g. "echo.listen"
  bool print_config = false;              ///< --print-config was given
};

/// Reads the four sources. `env` holds the process environment (only SPINDLE_* matter).
/// Throws ConfigError or HelpRequested.
Loaded load(const std::vector<std::string>& args, const std::map<std::string, std::string>& env);

/// The process environment as a map, for load().
std::map<std::string, std::string> process_environment();

/// --print-config: every key as TOML, each with its source in a comment.
std::string print_config(const Loaded& loaded);

/// One line per key: name, flag, environment variable, default, meaning.
std::string help_text();

}  // namespace spindle::config
