// Internal to the HTTP service: the deadline of a connection's waits for its next request.
#pragma once

#include "spindle/context.hpp"

namespace spindle::http {

/// The context a connection waits for its next request under: a scope's cancellation plus a
/// deadline given for each wait. A keep-alive connection waits once per request, and a
/// deadline context made for each wait (a node allocated, linked into the scope, queued for
/// its deadline, then taken out of both) cost ~435 of ~5,800 instructions per request. This
/// keeps one node while it can serve and moves the deadline forward in a field only, the way
/// nginx and Go's SetReadDeadline re-arm lazily: the node expires at the deadline it was made
/// with, and a wait it ends that had been given a later deadline waits again under a new node.
class IdleDeadline {
 public:
  /// The context for a wait that may last until `until`, cancelled with `scope`. The caller
  /// gives the deadline, often from a time it has already read: reading the clock here again
  /// cost ~25 instructions a request.
  const Context& start(const Context& scope, TimePoint until);
  /// The context of the current wait.
  const Context& context() const noexcept { return ctx_; }
  /// After the current wait ended with Errc::deadline_exceeded: true if its deadline had not
  /// passed — the node expired early, at a deadline since moved later — and the context was
  /// made again for the real one, under which the caller waits on.
  bool extended();

 private:
  Context ctx_;
  TimePoint until_{};
};

}  // namespace spindle::http
