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

// Pass 1 stages this many elements' two quantities, then folds them (a multiple of kChains, so
// the chains see the span's elements in order from `begin`, as reduce_span does). One walk over the
// span (one alignment peel); a lane pack that crosses a stage's end spills into the slack.
constexpr int64_t kTrustStage = 32;
static_assert(kTrustStage % kChains == 0, "a stage must hold whole rows of chains");

template <class Op, class T>
void trust_reduce(const void* step_ptr, void* const* stream_ptrs, int64_t begin, int64_t end, double* sums) {
  using Step = typename Op::template Step<T>;
  const Step step = *static_cast<const Step*>(step_ptr);
  T* streams[Op::kStreams];
  for (int k = 0; k < Op::kStreams; ++k) streams[k] = static_cast<T*>(stream_ptrs[k]);

  constexpr int64_t kSlack = Vec<T>::kLanes;
  alignas(64) T first[kTrustStage + kSlack];
  alignas(64) T second[kTrustStage + kSlack];
  Chains<NormL2> first_sums, second_sums;
  int64_t staged = 0;
  for_lane_packs(streams[0], begin, end, [&](auto tag, int64_t i) {
    using V = typename decltype(tag)::type;
    V x[Op::kStreams] = {};
    load_streams<Op::kStreams>(streams, Op::kReduceReads, i, x);
    V a, b;
    Op::reduce(step, x, a, b);
    store_streams<Op::kStreams>(streams, Op::kReduceWritten, i, x);
    a.store(first + staged);
    b.store(second + staged);
    staged += V::kLanes;
    if (staged >= kTrustStage) {
      for (int64_t row = 0; row < kTrustStage; row += kChains) {
        first_sums.add(first + row, 0.0);
        second_sums.add(second + row, 0.0);
      }
      staged -= kTrustStage;
      for (int64_t k = 0; k < kSlack; ++k) {  // all of the slack (a fixed size: no call to memmove)
        first[k] = first[kTrustStage + k];
        second[k] = second[kTrustStage + k];
      }
    }
  });
  // The last stage's whole rows, then its rest: the span's tail.
  int64_t folded = 0;
  for (; folded + kChains <= staged; folded += kChains) {
    first_sums.add(first + folded, 0.0);
    second_sums.add(second + folded, 0.0);
  }
  sums[0] = first_sums.finish(first + folded, staged - folded, 0.0);
  sums[1] = second_sums.finish(second + folded, staged - folded, 0.0);
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
