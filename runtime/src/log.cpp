#include "spindle/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>

#include "spindle/detail/fiber_record.hpp"

namespace spindle::log {
namespace {

/// `%F` in a pattern: "fiber 12 " inside a fiber, nothing outside.
class FiberFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& dest) override {
    if (auto id = current_fiber_id()) fmt::format_to(std::back_inserter(dest), "[fiber {}] ", id);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<FiberFlag>();
  }
};

void append_json_string(spdlog::memory_buf_t& dest, spdlog::string_view_t s) {
  dest.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"': dest.append(std::string_view("\\\"")); break;
      case '\\': dest.append(std::string_view("\\\\")); break;
      case '\n': dest.append(std::string_view("\\n")); break;
      case '\r': dest.append(std::string_view("\\r")); break;
      case '\t': dest.append(std::string_view("\\t")); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          fmt::format_to(std::back_inserter(dest), "\\u{:04x}", static_cast<unsigned>(c));
        else
          dest.push_back(c);
    }
  }
  dest.push_back('"');
}

thread_local std::span<const ScopedFields::Field> t_fields;

/// One JSON object per line: time (UTC, ms), level, fiber (when in one), msg, and the
/// thread's scoped fields.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    const auto t = msg.time;
    const std::time_t secs = system_clock::to_time_t(t);
    const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    fmt::format_to(std::back_inserter(dest),
                   R"({{"time":"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z","level":")",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                   tm.tm_sec, ms);
    const auto level = spdlog::level::to_string_view(msg.level);
    dest.append(level.data(), level.data() + level.size());
    dest.push_back('"');
    if (auto id = current_fiber_id()) fmt::format_to(std::back_inserter(dest), R"(,"fiber":{})", id);
    dest.append(std::string_view(R"(,"msg":)"));
    append_json_string(dest, msg.payload);
    for (const auto& f : t_fields) {
      dest.push_back(',');
      append_json_string(dest, f.key);
      dest.push_back(':');
      if (f.is_number) fmt::format_to(std::back_inserter(dest), "{}", f.number);
      else append_json_string(dest, f.text);
    }
    dest.append(std::string_view("}\n"));
  }
  std::unique_ptr<formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

ScopedFields::ScopedFields(std::span<const Field> fields) noexcept : previous_(t_fields) {
  t_fields = fields;
}

ScopedFields::~ScopedFields() { t_fields = previous_; }

std::span<const ScopedFields::Field> ScopedFields::current() noexcept { return t_fields; }

bool RateLimit::allow(std::uint64_t& suppressed) noexcept {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
  std::int64_t next = next_ns_.load(std::memory_order_relaxed);
  if (now < next ||
      !next_ns_.compare_exchange_strong(next, now + std::chrono::nanoseconds(interval_).count(),
                                        std::memory_order_relaxed)) {
    skipped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  suppressed = skipped_.exchange(0, std::memory_order_relaxed);
  return true;
}

std::uint64_t current_fiber_id() noexcept {
  auto* f = detail::current_fiber();
  return f ? f->id : 0;
}

void setup(Format format, spdlog::level::level_enum level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("spindle", std::move(sink));
  if (format == Format::json) {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    auto pattern = std::make_unique<spdlog::pattern_formatter>();
    pattern->add_flag<FiberFlag>('F').set_pattern("%Y-%m-%d %H:%M:%S.%e %-5l %F%v");
    logger->set_formatter(std::move(pattern));
  }
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace spindle::log
