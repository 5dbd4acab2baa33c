// select: wait on several channel operations and a context at once; exactly one happens.
#pragma once

#include <array>
#include <source_location>
#include <utility>

#include "spindle/channel.hpp"

namespace spindle {

/// The first argument of select(): the context that aborts it, and the call site. It refers
/// to the caller's context, as select() refers to its cases: await the select at once.
struct SelectOn {
  SelectOn(const Context& ctx, std::source_location where = std::source_location::current())
      : ctx(ctx), where(where) {}
  const Context& ctx;
  std::source_location where;
};

namespace detail {
template <class... Cases, std::size_t... I>
void notify_closed(int index, std::index_sequence<I...>, Cases&... cases) {
  ((static_cast<int>(I) == index ? cases.fired_closed() : void()), ...);
}
}  // namespace detail

/// Go's select without default: waits until one case can proceed and performs exactly that
/// one; ready cases are taken in random order, so none is starved. Yields the index of the
/// case that fired (in argument order), or -1 with ctx.err() if the context ended first. A
/// receive case that fired on a closed, drained channel reports closed(); a send case on a
/// closed channel throws ChannelClosed. A send case's value is delivered only if it fired.
///
///   auto job = jobs.recv_case();
///   auto out = results.send_case(r);
///   switch ((co_await select(ctx, job, out)).index) { case 0: ...; case 1: ...; default: return; }
template <class... Cases>
Task<Selected> select(SelectOn on, Cases&... cases) {
  static_assert(sizeof...(Cases) > 0, "spindle::select needs at least one case");
  std::array<detail::SelectCase, sizeof...(Cases)> untyped{cases.select_case()...};
  const Selected s = co_await detail::select_cases(on.ctx, on.where, untyped.data(), untyped.size());
  if (s.index >= 0 && s.error == Errc::closed)
    detail::notify_closed(s.index, std::index_sequence_for<Cases...>{}, cases...);
  co_return s;
}

/// Go's select with a default branch: performs one ready case now and returns its index, or
/// returns -1 at once when none is ready.
template <class... Cases>
int try_select(Cases&... cases) {
  static_assert(sizeof...(Cases) > 0, "spindle::try_select needs at least one case");
  std::array<detail::SelectCase, sizeof...(Cases)> untyped{cases.select_case()...};
  const Selected s = detail::try_select_cases(untyped.data(), untyped.size());
  if (s.index >= 0 && s.error == Errc::closed)
    detail::notify_closed(s.index, std::index_sequence_for<Cases...>{}, cases...);
  return s.index;
}

}  // namespace spindle
