#include "spindle/async.hpp"

#include <stdexcept>

#include "spindle/detail/worker.hpp"

namespace spindle {

asio::io_context& this_io_context() {
  asio::io_context* io = detail::current_io();
  if (!io) throw std::logic_error("spindle::this_io_context must be called from a fiber (a scheduler worker)");
  return *io;
}

}  // namespace spindle
