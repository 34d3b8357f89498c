// Streams a step writes without reading. An Op whose step overwrites a stream without reading it
// (ASGD's running average is a copy of the param while mu is exactly 1) says so with
// `static unsigned unread(const Step<T>&)`, a mask of its stream indices; the drivers then skip
// those loads and, where a span is too large to stay in cache, write those streams with streaming
// stores, so that their lines are not first read from memory only to be overwritten. Ops without
// it read every stream they have.
#pragma once
#include <type_traits>

#include "config.h"

namespace pygd {

template <class Op, class Step, class = void>
struct HasUnread : std::false_type {};
template <class Op, class Step>
struct HasUnread<Op, Step, std::void_t<decltype(Op::unread(std::declval<const Step&>()))>> : std::true_type {};

template <class Op, class Step>
PYGD_HD PYGD_INLINE unsigned unread_streams(const Step& step) {
  if constexpr (HasUnread<Op, Step>::value)
    return Op::unread(step);
  else
    return 0u;
}

}  // namespace pygd
