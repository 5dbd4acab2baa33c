#include "spindle/error.hpp"

#include <string>

namespace spindle {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "spindle"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::canceled: return "context canceled";
      case Errc::deadline_exceeded: return "context deadline exceeded";
      case Errc::closed: return "closed";
    }
    return "unknown spindle error " + std::to_string(ev);
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

}  // namespace spindle
