// The sweep: moves one tensor's elements through an optimizer's update, a SIMD vector at a time and
// then the width-1 tail, both through the same Op::update. It does no math of its own.
// Included once per ISA translation unit, inside that unit's namespace, after the unit has defined
// its lane packs: Vec<T> (SIMD, or Lane<T> where the unit has none) and Lane<T> (width 1).
// (No include guard on purpose.)

template <class Op, class V, class Step, class T>
PYGD_INLINE void update_at(const Step& step, T* const* streams, int64_t i) {
  V x[Op::kStreams] = {};
  for (int k = 0; k < Op::kStreams; ++k)
    if (streams[k]) x[k] = V::load(streams[k] + i);
  Op::update(step, x);
  for (int k = 0; k < Op::kStreams; ++k)
    if ((Op::kWritten >> k & 1u) && streams[k]) x[k].store(streams[k] + i);
}

template <class Op, class T>
void sweep(const void* step_ptr, void* const* stream_ptrs, int64_t begin, int64_t end) {
  using Step = typename Op::template Step<T>;
  const Step step = *static_cast<const Step*>(step_ptr);
  T* streams[Op::kStreams];
  for (int k = 0; k < Op::kStreams; ++k) streams[k] = static_cast<T*>(stream_ptrs[k]);

  constexpr int64_t W = Vec<T>::kLanes;
  static_assert(kSweepAlign % W == 0, "sweeps must start on a vector boundary");
  int64_t i = begin;
  for (; i + W <= end; i += W) update_at<Op, Vec<T>>(step, streams, i);
  for (; i < end; ++i) update_at<Op, Lane<T>>(step, streams, i);
}

template <class... Ops>
SweepTable make_table(OpList<Ops...>) {
  SweepTable table{};
  ((table.fn[kOpIndex<Ops>][int(Dtype::kFloat32)] = &sweep<Ops, float>,
    table.fn[kOpIndex<Ops>][int(Dtype::kFloat64)] = &sweep<Ops, double>),
   ...);
  return table;
}
