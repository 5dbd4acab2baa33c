// Doubly linked intrusive lists: O(1) unlink with no allocation, for waiters and children.
#pragma once

namespace spindle::detail {

/// A list hook. `Tag` lets one object sit in several lists at once.
template <class Tag>
struct Hook {
  Hook* prev = nullptr;
  Hook* next = nullptr;
  /// True while the object is in a list. Only meaningful under the list owner's lock.
  bool linked() const noexcept { return next != nullptr; }
};

/// A circular list with a sentinel; `T` derives from `Hook<Tag>`. Not copyable or movable.
template <class T, class Tag>
class List {
 public:
  List() noexcept { head_.prev = head_.next = &head_; }
  List(const List&) = delete;
  List& operator=(const List&) = delete;

  bool empty() const noexcept { return head_.next == &head_; }

  void push_back(T* item) noexcept {
    Hook<Tag>* h = item;
    h->prev = head_.prev;
    h->next = &head_;
    head_.prev->next = h;
    head_.prev = h;
  }

  /// Unlinks `item`, which must be in this list.
  static void erase(T* item) noexcept {
    Hook<Tag>* h = item;
    h->prev->next = h->next;
    h->next->prev = h->prev;
    h->prev = h->next = nullptr;
  }

  T* front() noexcept { return empty() ? nullptr : static_cast<T*>(head_.next); }

  T* pop_front() noexcept {
    T* item = front();
    if (item) erase(item);
    return item;
  }

  /// The element after `item`, or nullptr at the end.
  T* next(T* item) noexcept {
    Hook<Tag>* h = static_cast<Hook<Tag>*>(item)->next;
    return h == &head_ ? nullptr : static_cast<T*>(h);
  }

 private:
  Hook<Tag> head_;
};

}  // namespace spindle::detail
