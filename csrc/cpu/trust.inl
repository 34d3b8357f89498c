// The two passes of the trust-ratio optimizers (pygd/trust_ratio.h) over a span of one tensor, for
// one ISA unit. They do no math of their own: the Op computes, these move its streams through it, a
// lane pack at a time (the unaligned head and the tail one element at a time, as sweep.inl), and
// fold pass 1's two quantities into reduce.inl's fixed chains, so that a span's sums of squares are
// the bits a norm of those values would have at any ISA level.
// Included once per ISA translation unit after reduce.inl. (No include guard on purpose.)

template <class V>
struct LaneTag {
  using type = V;
};

// f(LaneTag<V>{}, i) over [begin, end): single elements until `first` + i is vector-aligned, then
// lane packs, then single elements (sweep.inl's order; which path an element takes never changes it).
template <class T, class F>
PYGD_INLINE void for_lane_packs(const T* first, int64_t begin, int64_t end, F&& f) {
  constexpr int64_t W = Vec<T>::kLanes;
  constexpr uintptr_t kVectorBytes = W * sizeof(T);
  const uintptr_t misalignment = reinterpret_cast<uintptr_t>(first + begin) % kVectorBytes;
  const int64_t peel = misalignment ? int64_t((kVectorBytes - misalignment) / sizeof(T)) : 0;
  int64_t i = begin;
  for (const int64_t head = begin + peel < end ? begin + peel : end; i < head; ++i) f(LaneTag<Lane<T>>{}, i);
  for (; i + W <= end; i += W) f(LaneTag<Vec<T>>{}, i);
  for (; i < end; ++i) f(LaneTag<Lane<T>>{}, i);
}

template <int kStreams, class V, class T>
PYGD_INLINE void load_streams(T* const* streams, unsigned mask, int64_t i, V* x) {
  for (int k = 0; k < kStreams; ++k)
    if ((mask >> k & 1u) && streams[k]) x[k] = V::load(streams[k] + i);
}

template <int kStreams, class V, class T>
PYGD_INLINE void store_streams(T* const* streams, unsigned mask, int64_t i, const V* x) {
  for (int k = 0; k < kStreams; ++k)
    if ((mask >> k & 1u) && streams[k]) x[k].store(streams[k] + i);
}

// Pass 1 stages each row of kChains elements' u (the param's own row is folded from the param
// stream, stream 0, where it already is), then folds both rows in order from `begin`, as
// reduce_span does. One walk over the span (one alignment peel); a lane pack that crosses a row's
// end spills into the slack. Folding row by row keeps the arithmetic between the loads.
constexpr int64_t kTrustStage = kChains;

template <class Op, class T>
void trust_reduce(const void* step_ptr, void* const* stream_ptrs, int64_t begin, int64_t end, double* sums) {
  using Step = typename Op::template Step<T>;
  const Step step = *static_cast<const Step*>(step_ptr);
  T* streams[Op::kStreams];
  for (int k = 0; k < Op::kStreams; ++k) streams[k] = static_cast<T*>(stream_ptrs[k]);

  constexpr int64_t kSlack = Vec<T>::kLanes;
  alignas(64) T updates[kTrustStage + kSlack];
  Chains<NormL2> param_sums, update_sums;
  int64_t row = begin, staged = 0;  // the staged row's first element, and how many are staged
  for_lane_packs(streams[0], begin, end, [&](auto tag, int64_t i) {
    using V = typename decltype(tag)::type;
    V x[Op::kStreams] = {};
    load_streams<Op::kStreams>(streams, Op::kReduceReads, i, x);
    const V u = Op::reduce(step, x);
    store_streams<Op::kStreams>(streams, Op::kReduceWritten, i, x);
    u.store(updates + staged);
    staged += V::kLanes;
    if (staged >= kTrustStage) {
      param_sums.add(streams[0] + row, 0.0);
      update_sums.add(updates, 0.0);
      row += kTrustStage;
      staged -= kTrustStage;
      for (int64_t k = 0; k < kSlack; ++k) updates[k] = updates[kTrustStage + k];  // a fixed size: no memmove
    }
  });
  // The span's tail: fewer than kChains elements, one at a time.
  sums[0] = param_sums.finish(streams[0] + row, staged, 0.0);
  sums[1] = update_sums.finish(updates, staged, 0.0);
}

template <class Op, class T>
void trust_apply(const void* step_ptr, void* const* stream_ptrs, int64_t begin, int64_t end, double scale) {
  using Step = typename Op::template Step<T>;
  const Step step = *static_cast<const Step*>(step_ptr);
  T* streams[Op::kStreams];
  for (int k = 0; k < Op::kStreams; ++k) streams[k] = static_cast<T*>(stream_ptrs[k]);
  const T tensor_scale = T(scale);
  for_lane_packs(streams[0], begin, end, [&](auto tag, int64_t i) {
    using V = typename decltype(tag)::type;
    V x[Op::kStreams] = {};
    load_streams<Op::kStreams>(streams, Op::kApplyReads, i, x);
    Op::apply(step, x, V(tensor_scale));
    store_streams<Op::kStreams>(streams, Op::kApplyWritten, i, x);
  });
}

template <class... Ops>
TrustTable make_trust_table(OpList<Ops...>) {
  TrustTable table{};
  ((table.reduce[TrustOps::index_of<Ops>()][int(Dtype::kFloat32)] = &trust_reduce<Ops, float>,
    table.reduce[TrustOps::index_of<Ops>()][int(Dtype::kFloat64)] = &trust_reduce<Ops, double>,
    table.apply[TrustOps::index_of<Ops>()][int(Dtype::kFloat32)] = &trust_apply<Ops, float>,
    table.apply[TrustOps::index_of<Ops>()][int(Dtype::kFloat64)] = &trust_apply<Ops, double>),
   ...);
  return table;
}
