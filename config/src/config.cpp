#include "spindle/config/config.hpp"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <stdexcept>

namespace spindle::config::detail {
/// A precondition of the TOML parser failed: the file is malformed in a way it cannot report.
struct TomlPrecondition : std::logic_error {
  using std::logic_error::logic_error;
};
/// Throws TomlPrecondition. A function, not a throw expression in the macro: some asserts sit
/// in noexcept functions, where the throw ends the process (as the assert did) instead of
/// going on past a broken invariant.
[[noreturn]] void toml_precondition_failed(const char* expr);
}  // namespace spindle::config::detail

// toml++ 3.3 (Debian 12's) asserts its parser's preconditions, and some malformed files break
// them: a table header such as "[%x]" or "[[[1]]]" reaches parse_key() at a character no key
// starts with (found by fuzz/config_loader_fuzz.cpp; fixed upstream after 3.3). Its asserts
// abort a debug build and, under NDEBUG, do nothing (gcc) or become __builtin_assume (clang):
// the parser goes on with a broken invariant. This file is the only one that includes
// toml++, so here they always check, and a failed one throws; apply_file() reports it as a
// malformed file like any parse error.
#pragma push_macro("NDEBUG")
#undef NDEBUG
#define TOML_ASSERT(expr) \
  ((expr) ? static_cast<void>(0) : ::spindle::config::detail::toml_precondition_failed(#expr))
#include <toml++/toml.h>
#pragma pop_macro("NDEBUG")

void spindle::config::detail::toml_precondition_failed(const char* expr) { throw TomlPrecondition(expr); }

extern char** environ;

namespace spindle::config {
namespace {

/// One configuration key: its names in every source, and how to read and show its value.
struct Key {
  const char* name;   ///< dotted TOML path
  const char* env;    ///< environment variable
  const char* flag;   ///< command-line flag
  const char* type;   ///< shown in --help: HOST:PORT, DURATION, ...
  const char* help;
  std::function<void(ServerConfig&, std::string_view)> set;  ///< throws std::invalid_argument
  std::function<std::string(const ServerConfig&)> get;       ///< canonical text
  bool quoted = true;                                       ///< a TOML string when printed
};

template <class T>
std::string choice_text(T value, std::initializer_list<std::pair<const char*, T>> choices) {
  for (auto& [text, v] : choices)
    if (v == value) return text;
  return "?";
}

template <class T>
T parse_choice(std::string_view text, std::initializer_list<std::pair<const char*, T>> choices) {
  std::string names;
  for (auto& [name, v] : choices) {
    if (text == name) return v;
    names += (names.empty() ? "" : ", ") + std::string(name);
  }
  throw std::invalid_argument("\"" + std::string(text) + "\" is not one of " + names);
}

const std::initializer_list<std::pair<const char*, LogFormat>> log_formats = {
    {"auto", LogFormat::automatic}, {"text", LogFormat::text}, {"json", LogFormat::json}};
const std::initializer_list<std::pair<const char*, AcceptMode>> accept_modes = {
    {"reuseport", AcceptMode::reuseport}, {"shared", AcceptMode::shared}};
const std::initializer_list<std::pair<const char*, std::string>> log_levels = {
    {"trace", "trace"}, {"debug", "debug"}, {"info", "info"}, {"warn", "warn"},
    {"error", "error"}, {"critical", "critical"}, {"off", "off"}};

/// Timeouts of the HTTP service: zero would make every request fail at once.
Duration positive_duration(std::string_view v) {
  const Duration d = parse_duration(v);
  if (d.count() == 0) throw std::invalid_argument("must be more than 0");
  return d;
}

std::uint64_t bounded_size(std::string_view v, std::uint64_t min, std::uint64_t max) {
  const std::uint64_t n = parse_size(v);
  if (n < min || n > max)
    throw std::invalid_argument(format_size(n) + " is out of range " + format_size(min) + "-" + format_size(max));
  return n;
}

const std::vector<Key>& schema() {
  static const std::vector<Key> keys = {
      {"threads", "SPINDLE_THREADS", "--threads", "N",
       "worker threads; 0 = one per usable CPU (affinity, container CPU limit)",
       [](ServerConfig& c, std::string_view v) { c.threads = static_cast<unsigned>(parse_integer(v, 0, 1024)); },
       [](const ServerConfig& c) { return std::to_string(c.threads); }, false},
      {"idle_spin", "SPINDLE_IDLE_SPIN", "--idle-spin", "DURATION",
       "how long a worker out of work polls for more before sleeping (up to 10ms; 0 = sleep at once)",
       [](ServerConfig& c, std::string_view v) {
         c.idle_spin = parse_fine_duration(v);
         if (c.idle_spin > 10ms) throw std::invalid_argument(format_fine_duration(c.idle_spin) + " is over the 10ms maximum");
       },
       [](const ServerConfig& c) { return format_fine_duration(c.idle_spin); }},
      {"shutdown_grace", "SPINDLE_SHUTDOWN_GRACE", "--shutdown-grace", "DURATION",
       "on SIGTERM/SIGINT, how long open connections get to finish before they are cancelled",
       [](ServerConfig& c, std::string_view v) { c.shutdown_grace = parse_duration(v); },
       [](const ServerConfig& c) { return format_duration(c.shutdown_grace); }},
      {"accept_mode", "SPINDLE_ACCEPT_MODE", "--accept-mode", "reuseport|shared",
       "one listening socket per thread (SO_REUSEPORT) or one that hands connections out",
       [](ServerConfig& c, std::string_view v) { c.accept_mode = parse_choice(v, accept_modes); },
       [](const ServerConfig& c) { return choice_text(c.accept_mode, accept_modes); }},
      {"log.level", "SPINDLE_LOG_LEVEL", "--log-level", "LEVEL",
       "trace, debug, info, warn, error, critical or off",
       [](ServerConfig& c, std::string_view v) { c.log_level = parse_choice(v, log_levels); },
       [](const ServerConfig& c) { return c.log_level; }},
      {"log.format", "SPINDLE_LOG_FORMAT", "--log-format", "auto|text|json",
       "text for people, JSON lines for collectors; auto = text on a terminal, else JSON",
       [](ServerConfig& c, std::string_view v) { c.log_format = parse_choice(v, log_formats); },
       [](const ServerConfig& c) { return choice_text(c.log_format, log_formats); }},
      {"echo.enabled", "SPINDLE_ECHO_ENABLED", "--echo-enabled", "BOOL", "run the TCP echo service",
       [](ServerConfig& c, std::string_view v) { c.echo.enabled = parse_bool(v); },
       [](const ServerConfig& c) { return std::string(c.echo.enabled ? "true" : "false"); }, false},
      {"echo.listen", "SPINDLE_ECHO", "--echo", "HOST:PORT",
       "listen address of the echo service (port 0: any free port)",
       [](ServerConfig& c, std::string_view v) { c.echo.listen = parse_endpoint(v); },
       [](const ServerConfig& c) { return c.echo.listen.to_string(); }},
      {"echo.idle_timeout", "SPINDLE_ECHO_IDLE_TIMEOUT", "--echo-idle-timeout", "DURATION",
       "close an echo connection silent this long; 0 = never",
       [](ServerConfig& c, std::string_view v) { c.echo.idle_timeout = parse_duration(v); },
       [](const ServerConfig& c) { return format_duration(c.echo.idle_timeout); }},
      {"echo.max_connections", "SPINDLE_ECHO_MAX_CONNECTIONS", "--echo-max-connections", "N",
       "open echo connections at most; more are accepted and closed at once",
       [](ServerConfig& c, std::string_view v) {
         c.echo.max_connections = static_cast<std::size_t>(parse_integer(v, 1, 1'000'000));
       },
       [](const ServerConfig& c) { return std::to_string(c.echo.max_connections); }, false},
      {"http.enabled", "SPINDLE_HTTP_ENABLED", "--http-enabled", "BOOL", "run the HTTP service",
       [](ServerConfig& c, std::string_view v) { c.http.enabled = parse_bool(v); },
       [](const ServerConfig& c) { return std::string(c.http.enabled ? "true" : "false"); }, false},
      {"http.listen", "SPINDLE_HTTP", "--http", "HOST:PORT",
       "listen address of the HTTP service (port 0: any free port)",
       [](ServerConfig& c, std::string_view v) { c.http.listen = parse_endpoint(v); },
       [](const ServerConfig& c) { return c.http.listen.to_string(); }},
      {"http.max_connections", "SPINDLE_HTTP_MAX_CONNECTIONS", "--http-max-connections", "N",
       "open HTTP connections at most; more are accepted and closed at once",
       [](ServerConfig& c, std::string_view v) {
         c.http.max_connections = static_cast<std::size_t>(parse_integer(v, 1, 1'000'000));
       },
       [](const ServerConfig& c) { return std::to_string(c.http.max_connections); }, false},
      {"http.header_timeout", "SPINDLE_HTTP_HEADER_TIMEOUT", "--http-header-timeout", "DURATION",
       "time from a request's first byte to the end of its head (slowloris); 408 after it",
       [](ServerConfig& c, std::string_view v) { c.http.header_timeout = positive_duration(v); },
       [](const ServerConfig& c) { return format_duration(c.http.header_timeout); }},
      {"http.idle_timeout", "SPINDLE_HTTP_IDLE_TIMEOUT", "--http-idle-timeout", "DURATION",
       "how long a keep-alive connection may wait for its next request",
       [](ServerConfig& c, std::string_view v) { c.http.idle_timeout = positive_duration(v); },
       [](const ServerConfig& c) { return format_duration(c.http.idle_timeout); }},
      {"http.body_timeout", "SPINDLE_HTTP_BODY_TIMEOUT", "--http-body-timeout", "DURATION",
       "how long one read of a request body may wait for bytes",
       [](ServerConfig& c, std::string_view v) { c.http.body_timeout = positive_duration(v); },
       [](const ServerConfig& c) { return format_duration(c.http.body_timeout); }},
      {"http.request_timeout", "SPINDLE_HTTP_REQUEST_TIMEOUT", "--http-request-timeout", "DURATION",
       "a request's deadline: its context ends then (X-Request-Timeout may shorten it)",
       [](ServerConfig& c, std::string_view v) { c.http.request_timeout = positive_duration(v); },
       [](const ServerConfig& c) { return format_duration(c.http.request_timeout); }},
      {"http.write_timeout", "SPINDLE_HTTP_WRITE_TIMEOUT", "--http-write-timeout", "DURATION",
       "how long writing a response may wait for a client that does not read",
       [](ServerConfig& c, std::string_view v) { c.http.write_timeout = positive_duration(v); },
       [](const ServerConfig& c) { return format_duration(c.http.write_timeout); }},
      {"http.max_request_line", "SPINDLE_HTTP_MAX_REQUEST_LINE", "--http-max-request-line", "SIZE",
       "longest request line; longer gets 414",
       [](ServerConfig& c, std::string_view v) { c.http.max_request_line = bounded_size(v, 64, 1 << 20); },
       [](const ServerConfig& c) { return format_size(c.http.max_request_line); }},
      {"http.max_header_bytes", "SPINDLE_HTTP_MAX_HEADER_BYTES", "--http-max-header-bytes", "SIZE",
       "largest request head (request line and header fields); larger gets 431",
       [](ServerConfig& c, std::string_view v) { c.http.max_header_bytes = bounded_size(v, 256, 1 << 20); },
       [](const ServerConfig& c) { return format_size(c.http.max_header_bytes); }},
      {"http.max_headers", "SPINDLE_HTTP_MAX_HEADERS", "--http-max-headers", "N",
       "most header fields in a request; more gets 431",
       [](ServerConfig& c, std::string_view v) { c.http.max_headers = static_cast<std::uint64_t>(parse_integer(v, 1, 10'000)); },
       [](const ServerConfig& c) { return std::to_string(c.http.max_headers); }, false},
      {"http.max_body", "SPINDLE_HTTP_MAX_BODY", "--http-max-body", "SIZE",
       "largest request body; larger gets 413",
       [](ServerConfig& c, std::string_view v) { c.http.max_body = bounded_size(v, 0, 1ull << 40); },
       [](const ServerConfig& c) { return format_size(c.http.max_body); }},
      {"http.access_log", "SPINDLE_HTTP_ACCESS_LOG", "--http-access-log", "BOOL",
       "log one line per request (at info level)",
       [](ServerConfig& c, std::string_view v) { c.http.access_log = parse_bool(v); },
       [](const ServerConfig& c) { return std::string(c.http.access_log ? "true" : "false"); }, false},
  };
  return keys;
}

const Key* find_key(std::string_view name) {
  for (const auto& k : schema())
    if (name == k.name) return &k;
  return nullptr;
}

[[noreturn]] void fail(const std::string& key, const Source& source, const std::string& problem) {
  throw ConfigError("config error: " + key + " from " + source.describe() + ": " + problem);
}

void apply(Loaded& out, const Key& key, std::string_view text, const Source& source) {
  try {
    key.set(out.config, text);
  } catch (const std::invalid_argument& e) {
    fail(key.name, source, e.what());
  }
  out.sources[key.name] = source;
}

/// Flattens a TOML table into dotted keys and applies each.
void apply_table(Loaded& out, const toml::table& table, const std::string& prefix,
                 const Source& source) {
  for (auto&& [k, node] : table) {
    const std::string name = prefix + std::string(k.str());
    if (auto* sub = node.as_table()) {
      apply_table(out, *sub, name + ".", source);
      continue;
    }
    const Key* key = find_key(name);
    if (!key) fail(name, source, "unknown key");
    std::string text;
    if (auto s = node.value<std::string>(); s && node.is_string()) text = *s;
    else if (node.is_integer()) text = std::to_string(*node.value<std::int64_t>());
    else if (node.is_boolean()) text = *node.value<bool>() ? "true" : "false";
    else fail(name, source, "must be a string, a whole number or true/false");
    apply(out, *key, text, source);
  }
}

/// toml++ 3.3 also reaches __builtin_unreachable (undefined behaviour) when it asks whether
/// some non-ASCII characters are whitespace, e.g. a stray "\u0196" where a key may start (found
/// by the config fuzzer). Every key and value spindle reads is ASCII, so other bytes may only
/// be in comment lines; anywhere else they are refused before toml++ sees them.
void require_ascii_outside_comment_lines(std::string_view text, const std::string& path) {
  std::size_t line = 1, column = 0;
  bool at_line_start = true, comment_line = false;
  for (const char ch : text) {
    ++column;
    if (ch == '\n') {
      ++line;
      column = 0;
      at_line_start = true;
      comment_line = false;
      continue;
    }
    if (at_line_start && ch != ' ' && ch != '\t') {
      at_line_start = false;
      comment_line = ch == '#';
    }
    if (static_cast<unsigned char>(ch) >= 0x80 && !comment_line)
      throw ConfigError("config error: file " + path + " at line " + std::to_string(line) + ", column " +
                        std::to_string(column) +
                        ": a byte other than ASCII outside a comment line (keys and values are ASCII)");
  }
}

void apply_file(Loaded& out, const std::string& path) {
  const Source source{Source::file, path};
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw ConfigError("config error: --config " + path + ": is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("config error: --config " + path + ": cannot open the file for reading");
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw ConfigError("config error: --config " + path + ": cannot read the file");
  require_ascii_outside_comment_lines(text, path);
  toml::table table;
  try {
    table = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << e.source().begin;
    const std::string description(e.description());
    if (!e.source().begin) throw ConfigError("config error: --config " + path + ": " + description);
    throw ConfigError("config error: file " + path + " at " + where.str() + ": " + description);
  } catch (const detail::TomlPrecondition&) {
    throw ConfigError("config error: file " + path +
                      ": malformed TOML (check table headers and keys: a key starts with a letter, "
                      "a digit, '_', '-' or a quote)");
  }
  apply_table(out, table, "", source);
}

}  // namespace

std::string Source::describe() const {
  switch (kind) {
    case defaults: return "default";
    case file: return "file " + where;
    case environment: return "environment " + where;
    case flag: return "flag " + where;
  }
  return "?";
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    const auto eq = entry.find('=');
    if (eq != std::string_view::npos) env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return env;
}

std::string help_text() {
  std::ostringstream out;
  out << "options (flag / environment variable / default):\n";
  const ServerConfig defaults;
  for (const auto& k : schema()) {
    out << "  " << k.flag << " " << k.type << "\n      " << k.help << "\n      env "
        << k.env << ", default " << k.get(defaults) << ", config key " << k.name << "\n";
  }
  out << "  --config FILE\n      TOML file with any of the config keys above (env SPINDLE_CONFIG)\n"
      << "  --print-config\n      print the effective configuration with the source of each "
         "value, and exit\n"
      << "  -h, --help\n      this text\n";
  return out.str();
}

Loaded load(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  const auto& keys = schema();
  CLI::App app("spindle-server: TCP echo and HTTP/1.1 services on spindle fibers", "spindle-server");
  app.set_help_flag();  // --help is handled below so it shows every source of every key
  bool help = false, print = false;
  std::string config_file;
  app.add_flag("-h,--help", help);
  app.add_flag("--print-config", print);
  app.add_option("--config", config_file);
  std::vector<std::string> flag_values(keys.size());
  std::vector<CLI::Option*> flag_options(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i)
    flag_options[i] = app.add_option(keys[i].flag, flag_values[i]);

  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 pops from the back
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    throw ConfigError(std::string("config error: command line: ") + e.what() +
                      " (see --help)");
  }
  if (help) throw HelpRequested(help_text());

  Loaded out;
  out.print_config = print;
  for (const auto& k : keys) out.sources[k.name] = Source{};

  // Environment: unknown SPINDLE_* variables are typos, not noise.
  for (const auto& [name, value] : env) {
    if (!name.starts_with("SPINDLE_") || name == "SPINDLE_CONFIG") continue;
    bool known = false;
    for (const auto& k : keys) known = known || name == k.env;
    if (!known)
      throw ConfigError("config error: environment " + name + ": unknown variable (see --help)");
  }

  if (config_file.empty())
    if (auto it = env.find("SPINDLE_CONFIG"); it != env.end()) config_file = it->second;
  if (!config_file.empty()) apply_file(out, config_file);

  for (const auto& k : keys)
    if (auto it = env.find(k.env); it != env.end())
      apply(out, k, it->second, Source{Source::environment, k.env});

  for (std::size_t i = 0; i < keys.size(); ++i)
    if (flag_options[i]->count() > 0)
      apply(out, keys[i], flag_values[i], Source{Source::flag, keys[i].flag});
  return out;
}

std::string print_config(const Loaded& loaded) {
  std::ostringstream out;
  std::string section;
  for (const auto& k : schema()) {
    std::string name = k.name;
    const auto dot = name.find('.');
    const std::string key_section = dot == std::string::npos ? "" : name.substr(0, dot);
    if (key_section != section) {
      section = key_section;
      out << "\n[" << section << "]\n";
    }
    const std::string value = k.get(loaded.config);
    const std::string shown = k.quoted ? "\"" + value + "\"" : value;
    out << (dot == std::string::npos ? name : name.substr(dot + 1)) << " = " << shown
        << "  # " << loaded.sources.at(k.name).describe() << "\n";
  }
  return out.str();
}

}  // namespace spindle::config
