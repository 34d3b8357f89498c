// The sweep: moves one tensor's elements through an optimizer's update, a SIMD vector at a time and
// the unaligned head and the tail one element at a time, all through the same Op::update. It does no
// math of its own. Lane and Vec round identically (same operations, FMA in both where the unit has
// it), so which path an element takes never changes its result.
// Included once per ISA translation unit, inside that unit's namespace, after the unit has defined
// its lane packs: Vec<T> (SIMD, or Lane<T> where the unit has none) and Lane<T> (width 1).
// (No include guard on purpose.)

// Unread streams (unread.h) are not loaded; with `kStreaming`, they are written with streaming
// stores (the vector body, where the stream is vector-aligned and the span is large).
template <class Op, class V, bool kStreaming = false, class Step, class T>
PYGD_INLINE void update_at(const Step& step, T* const* streams, unsigned unread, int64_t i) {
  V x[Op::kStreams] = {};
  for (int k = 0; k < Op::kStreams; ++k)
    if (streams[k] && !(unread >> k & 1u)) x[k] = V::load(streams[k] + i);
  Op::update(step, x);
  for (int k = 0; k < Op::kStreams; ++k)
    if ((Op::kWritten >> k & 1u) && streams[k]) {
      if (kStreaming && (unread >> k & 1u))
        x[k].stream(streams[k] + i);
      else
        x[k].store(streams[k] + i);
    }
}

template <class Op, class T>
void sweep(const void* step_ptr, void* const* stream_ptrs, int64_t begin, int64_t end, bool stream_unread) {
  using Step = typename Op::template Step<T>;
  const Step step = *static_cast<const Step*>(step_ptr);
  T* streams[Op::kStreams];
  for (int k = 0; k < Op::kStreams; ++k) streams[k] = static_cast<T*>(stream_ptrs[k]);
  const unsigned unread = unread_streams<Op>(step);

  // Single elements until the first stream (params) is vector-aligned: a SIMD load that straddles
  // two cache lines costs about 12% of a memory-bound update. NumPy's large arrays sit 16 bytes past
  // a 64-byte boundary, and all of a call's arrays usually share that offset.
  constexpr int64_t W = Vec<T>::kLanes;
  constexpr uintptr_t kVectorBytes = W * sizeof(T);
  const uintptr_t misalignment = reinterpret_cast<uintptr_t>(streams[0] + begin) % kVectorBytes;
  const int64_t peel = misalignment ? int64_t((kVectorBytes - misalignment) / sizeof(T)) : 0;
  int64_t i = begin;
  for (const int64_t head = begin + peel < end ? begin + peel : end; i < head; ++i)
    update_at<Op, Lane<T>>(step, streams, unread, i);
  // Streaming stores need each unread stream vector-aligned where the body starts.
  bool streaming = unread && stream_unread;
  for (int k = 0; k < Op::kStreams; ++k)
    if ((unread >> k & 1u) && streams[k] && reinterpret_cast<uintptr_t>(streams[k] + i) % kVectorBytes)
      streaming = false;
  if (streaming) {
    for (; i + W <= end; i += W) update_at<Op, Vec<T>, true>(step, streams, unread, i);
    // Streaming stores are weakly ordered: drain them before the pool reports this range done.
    stream_fence();
  } else {
    for (; i + W <= end; i += W) update_at<Op, Vec<T>>(step, streams, unread, i);
  }
  for (; i < end; ++i) update_at<Op, Lane<T>>(step, streams, unread, i);
}

template <class... Ops>
SweepTable make_table(OpList<Ops...>) {
  SweepTable table{};
  ((table.fn[kOpIndex<Ops>][int(Dtype::kFloat32)] = &sweep<Ops, float>,
    table.fn[kOpIndex<Ops>][int(Dtype::kFloat64)] = &sweep<Ops, double>),
   ...);
  return table;
}
