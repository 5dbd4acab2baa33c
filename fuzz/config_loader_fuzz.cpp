// libFuzzer target for spindle-server's configuration loader: a TOML file, command-line
// flags and SPINDLE_* environment variables, all from the fuzzer.
//
// Input layout, split at the last two NUL bytes (argv and environment strings cannot hold a
// NUL; the TOML text may):  FILE-TEXT \0 ARGS \0 ENV
//   ARGS: one argument per line;  ENV: one NAME=VALUE per line.
// With fewer than two NULs the whole input is the file text.
//
// Properties checked on every input:
//   - load() returns, or throws ConfigError whose message starts with "config error: " and
//     says something after it, or HelpRequested with the help text. Any other exception, a
//     crash, or undefined behaviour (ASan/UBSan) is a finding.
//   - whatever load() accepts, --print-config prints as TOML that load() reads back to the
//     same configuration (the printed file is a valid config file, value for value).
//
// The fuzzer never names the file to read: --config and SPINDLE_CONFIG from the input are
// dropped, and the file text is handed over through a memfd (by --config or SPINDLE_CONFIG,
// chosen by the input's length), so no input can make the loader open /dev/zero or a FIFO.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spindle/config/config.hpp"

namespace cfg = spindle::config;

namespace {

[[noreturn]] void finding(const char* what, const std::string& detail) {
  __builtin_printf("finding: %s: %s\n", what, detail.c_str());
  std::abort();
}

/// A file that lives in memory; its path works with any open().
class MemFile {
 public:
  MemFile() : fd_(::memfd_create("spindle-config-fuzz", 0)), path_("/proc/self/fd/" + std::to_string(fd_)) {
    if (fd_ < 0) std::abort();
  }
  const std::string& write(std::string_view text) {
    if (::ftruncate(fd_, 0) != 0) std::abort();
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::pwrite(fd_, text.data() + done, text.size() - done, static_cast<off_t>(done));
      if (n <= 0) std::abort();
      done += static_cast<std::size_t>(n);
    }
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

MemFile& file_a() {
  static MemFile f;
  return f;
}
MemFile& file_b() {
  static MemFile f;
  return f;
}

std::vector<std::string> lines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    out.emplace_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

/// Runs load(); returns the configuration it accepted, or nothing when it refused the input
/// the way it promises to.
std::optional<cfg::Loaded> try_load(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  try {
    return cfg::load(args, env);
  } catch (const cfg::ConfigError& e) {
    const std::string_view message = e.what();
    if (!message.starts_with("config error: ") || message.size() <= 14) finding("error message", std::string(message));
  } catch (const cfg::HelpRequested& e) {
    if (std::string_view(e.what()).empty()) finding("empty help", "");
  } catch (const std::exception& e) {
    finding("exception other than ConfigError escaped load()", e.what());
  } catch (...) {
    finding("non-standard exception escaped load()", "");
  }
  return std::nullopt;
}

/// print_config() without the "# source" comments: the values alone.
std::string values_of(const cfg::Loaded& loaded) {
  std::string out;
  for (const std::string& line : lines(cfg::print_config(loaded))) out += line.substr(0, line.find("  # ")) + "\n";
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view file = input, args_text, env_text;
  if (const auto last = input.rfind('\0'); last != std::string_view::npos && last > 0) {
    if (const auto second = input.rfind('\0', last - 1); second != std::string_view::npos) {
      file = input.substr(0, second);
      args_text = input.substr(second + 1, last - second - 1);
      env_text = input.substr(last + 1);
    }
  }

  std::vector<std::string> args;
  for (auto& a : lines(args_text))
    if (!a.starts_with("--config")) args.push_back(std::move(a));  // the fuzzer names no file
  std::map<std::string, std::string> env;
  for (const auto& entry : lines(env_text)) {
    const auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    const std::string name = entry.substr(0, eq);
    if (name != "SPINDLE_CONFIG") env[name] = entry.substr(eq + 1);
  }
  if (!file.empty()) {
    const std::string& path = file_a().write(file);
    if (size % 2) {
      args.insert(args.begin(), {"--config", path});
    } else {
      env["SPINDLE_CONFIG"] = path;
    }
  }

  const auto loaded = try_load(args, env);
  if (!loaded) return 0;

  // What it accepted, printed as TOML, must read back as the same configuration.
  const std::string printed = cfg::print_config(*loaded);
  const auto again = try_load({"--config", file_b().write(printed)}, {});
  if (!again) finding("--print-config output is not a valid config file", printed);
  if (values_of(*again) != values_of(*loaded)) finding("--print-config output reads back differently", printed);
  return 0;
}
