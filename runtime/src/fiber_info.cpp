#include "spindle/fiber_info.hpp"

#include <fmt/format.h>

#include <mutex>
#include <string_view>

namespace spindle {
namespace {

std::string site(const std::source_location& s) {
  return fmt::format("{}:{}", s.file_name(), s.line());
}

std::string seconds(std::chrono::nanoseconds d) {
  return fmt::format("{:.3f}s", std::chrono::duration<double>(d).count());
}

struct IgnoreList {
  std::mutex mu;
  std::vector<LeakIgnore> rules;
};

IgnoreList& ignore_list() {
  static IgnoreList* list = new IgnoreList;  // used during static destruction by shutdowns
  return *list;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool matches(const LeakIgnore& rule, const FiberInfo& f) {
  if (!rule.name.empty()) return rule.name == f.name;
  if (rule.site.empty()) return false;
  if (ends_with(f.spawned_at.file_name(), rule.site)) return true;
  return ends_with(site(f.spawned_at), rule.site);
}

}  // namespace

std::string to_string(const FiberInfo& f) {
  std::string out = fmt::format("fiber {} \"{}\" spawned at {} parent {} age {}", f.id, f.name,
                                site(f.spawned_at), f.parent_id, seconds(f.age));
  if (f.parked_at.line() != 0) out += fmt::format(" parked at {}", site(f.parked_at));
  if (f.deadline_left) out += fmt::format(" deadline in {}", seconds(*f.deadline_left));
  if (f.canceled) out += " (canceled)";
  return out;
}

void ignore_leaks(LeakIgnore rule) {
  auto& list = ignore_list();
  std::lock_guard lock(list.mu);
  list.rules.push_back(std::move(rule));
}

void clear_leak_ignores() {
  auto& list = ignore_list();
  std::lock_guard lock(list.mu);
  list.rules.clear();
}

bool leak_ignored(const FiberInfo& f) {
  auto& list = ignore_list();
  std::lock_guard lock(list.mu);
  for (const auto& rule : list.rules)
    if (matches(rule, f)) return true;
  return false;
}

}  // namespace spindle
