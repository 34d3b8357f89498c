// The sweep: moves one tensor's elements through an optimizer's update, a SIMD vector at a time and
// the unaligned head and the tail one element at a time, all through the same Op::update. It does no
// math of its own. Lane and Vec round identically (same operations, FMA in both where the unit has
// it), so which path an element takes never changes its result.
// Generic over a storage layout (sweeps.h: Layout, Storage): each stream is loaded from its own
// element type, widened to the layout's Math lanes (float32 for the narrow types), and stored back
// narrowed, rounding to nearest even once per stored value; the param copy of a (C) layout is a
// write-only stream that receives the updated params. The Op's Step is always Step<Math>.
// Included once per ISA translation unit, inside that unit's namespace, after the unit has defined
// its lane packs: Vec<T> (SIMD, or Lane<T> where the unit has none) and Lane<T> (width 1).
// (No include guard on purpose.)

constexpr int64_t kPrefetchBytes = 1024;
// Where the sweep prefetches: the layouts with narrow params or grads.
template <class S>
inline constexpr bool kPrefetch = sizeof(typename S::Param) == 2 || sizeof(typename S::Grad) == 2;

// Stream k's element type: the params', the grads' or the states'.
template <class S, int k>
using StreamType = std::conditional_t<k == 0, typename S::Param,
                                      std::conditional_t<k == 1, typename S::Grad, typename S::State>>;

// Streams the step does not read (unread.h) are not loaded.
template <class Op, class V, class S, int k>
PYGD_INLINE void load_streams(V* x, void* const* streams, unsigned unread, int64_t i) {
  if constexpr (k < Op::kStreams) {
    if (streams[k] && !(unread >> k & 1u)) x[k] = V::load(static_cast<const StreamType<S, k>*>(streams[k]) + i);
    load_streams<Op, V, S, k + 1>(x, streams, unread, i);
  }
}

// With kStreaming, the unread streams stored in the math type go around the cache (streaming
// stores; the sweep checked their alignment); a narrow one is stored as usual.
template <class Op, class V, class S, bool kStreaming, int k>
PYGD_INLINE void store_streams(const V* x, void* const* streams, unsigned unread, int64_t i) {
  if constexpr (k < Op::kStreams) {
    using E = StreamType<S, k>;
    if ((Op::kWritten >> k & 1u) && streams[k]) {
      if constexpr (kStreaming && std::is_same_v<E, typename S::Math>) {
        if (unread >> k & 1u) x[k].stream(static_cast<E*>(streams[k]) + i);
        else x[k].store(static_cast<E*>(streams[k]) + i);
      } else {
        x[k].store(static_cast<E*>(streams[k]) + i);
      }
    }
    store_streams<Op, V, S, kStreaming, k + 1>(x, streams, unread, i);
  }
}

// Software prefetch of every stream kPrefetchBytes of params ahead, in the SIMD body of the narrow
// layouts only. An update whose math is heavy for its bytes (Adam on bfloat16: a square root and
// two divisions per 14 bytes) fills the out-of-order window with arithmetic, and the hardware
// prefetchers alone then leave the loads waiting on memory.
template <class Op, class S, int k>
PYGD_INLINE void prefetch_streams(void* const* streams, int64_t i) {
  if constexpr (k < Op::kStreams) {
    using E = StreamType<S, k>;
    constexpr int64_t kAhead = kPrefetchBytes / int64_t(sizeof(typename S::Param));
    if (streams[k]) __builtin_prefetch(static_cast<const E*>(streams[k]) + i + kAhead, (Op::kWritten >> k) & 1u, 3);
    prefetch_streams<Op, S, k + 1>(streams, i);
  }
}

template <class Op, class V, class S, bool kStreaming = false, class Step>
PYGD_INLINE void update_at(const Step& step, void* const* streams, unsigned unread, int64_t i) {
  V x[Op::kStreams] = {};
  load_streams<Op, V, S, 0>(x, streams, unread, i);
  Op::update(step, x);
  store_streams<Op, V, S, kStreaming, 0>(x, streams, unread, i);
  if constexpr (!std::is_void_v<typename S::Copy>)  // the params, as the copy's type
    x[0].store(static_cast<typename S::Copy*>(streams[Op::kStreams]) + i);
}

// Whether every unread stream stored in the math type is vector-aligned at element i.
template <class Op, class S, int k = 0>
bool unread_aligned(void* const* streams, unsigned unread, int64_t i) {
  if constexpr (k < Op::kStreams) {
    using E = StreamType<S, k>;
    constexpr uintptr_t kBytes = uintptr_t(Vec<typename S::Math>::kLanes) * sizeof(E);
    if (std::is_same_v<E, typename S::Math> && (unread >> k & 1u) && streams[k] &&
        reinterpret_cast<uintptr_t>(static_cast<E*>(streams[k]) + i) % kBytes)
      return false;
    return unread_aligned<Op, S, k + 1>(streams, unread, i);
  } else {
    return true;
  }
}

// The SIMD body from element i: whole vectors up to end; returns where it stopped.
template <class Op, class S, bool kStreaming, class Step>
int64_t sweep_body(const Step& step, void* const* streams, unsigned unread, int64_t i, int64_t end) {
  using T = typename S::Math;
  using P = typename S::Param;
  constexpr int64_t W = Vec<T>::kLanes;
  if constexpr (kPrefetch<S>) {
    // One prefetch per stream per 64-byte line of params.
    constexpr int64_t kLine = 64 / int64_t(sizeof(P)) > W ? 64 / int64_t(sizeof(P)) : W;
    for (; i + kLine <= end; i += kLine) {
      prefetch_streams<Op, S, 0>(streams, i);
      for (int64_t u = 0; u < kLine; u += W) update_at<Op, Vec<T>, S, kStreaming>(step, streams, unread, i + u);
    }
  }
  for (; i + W <= end; i += W) update_at<Op, Vec<T>, S, kStreaming>(step, streams, unread, i);
  return i;
}

template <class Op, class S>
void sweep(const void* step_ptr, void* const* stream_ptrs, int64_t begin, int64_t end, bool stream_unread) {
  using T = typename S::Math;
  using Step = typename Op::template Step<T>;
  const Step step = *static_cast<const Step*>(step_ptr);
  constexpr int kPointers = Op::kStreams + (std::is_void_v<typename S::Copy> ? 0 : 1);
  void* streams[kPointers];
  for (int k = 0; k < kPointers; ++k) streams[k] = stream_ptrs[k];
  const unsigned unread = unread_streams<Op>(step);

  // Single elements until the first stream (params) is vector-aligned: a SIMD load that straddles
  // two cache lines costs about 12% of a memory-bound update. NumPy's large arrays sit 16 bytes past
  // a 64-byte boundary, and all of a call's arrays usually share that offset.
  using P = typename S::Param;
  constexpr int64_t W = Vec<T>::kLanes;
  constexpr uintptr_t kVectorBytes = W * sizeof(P);
  const uintptr_t misalignment = reinterpret_cast<uintptr_t>(static_cast<P*>(streams[0]) + begin) % kVectorBytes;
  const int64_t peel = misalignment ? int64_t((kVectorBytes - misalignment) / sizeof(P)) : 0;
  int64_t i = begin;
  for (const int64_t head = begin + peel < end ? begin + peel : end; i < head; ++i)
    update_at<Op, Lane<T>, S>(step, streams, unread, i);
  if (unread && stream_unread && unread_aligned<Op, S>(streams, unread, i)) {
    i = sweep_body<Op, S, true>(step, streams, unread, i, end);
    // Streaming stores are weakly ordered: drain them before the pool reports this range done.
    stream_fence();
  } else {
    i = sweep_body<Op, S, false>(step, streams, unread, i, end);
  }
  for (; i < end; ++i) update_at<Op, Lane<T>, S>(step, streams, unread, i);
}

template <class Op, int... L>
void fill_layouts(SweepFn* row, std::integer_sequence<int, L...>) {
  ((row[L] = &sweep<Op, typename StorageOf<Layout(L)>::type>), ...);
}

template <class Op>
void fill_row(SweepFn* row) {
  if constexpr (TakesEveryLayout<Op>::value)
    fill_layouts<Op>(row, std::make_integer_sequence<int, int(Layout::kCount)>{});
  else
    fill_layouts<Op>(row, std::integer_sequence<int, int(Layout::kFloat32), int(Layout::kFloat64)>{});
}

template <class... Ops>
SweepTable make_table(OpList<Ops...>) {
  SweepTable table{};
  (fill_row<Ops>(table.fn[kOpIndex<Ops>]), ...);
  return table;
}
