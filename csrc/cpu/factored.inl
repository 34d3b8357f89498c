// The three passes of Adafactor's factored driver (pygd/adafactor.h) over a part of one tensor,
// for one ISA unit. They do no math of their own: the Op computes each element, these move the
// streams through it a lane pack at a time (the rest of a row one element at a time; which path
// an element takes never changes it), and fold the sums into reduce.inl's fixed chains, so that
// every sum is the same bits at every ISA level.
// Included once per ISA translation unit after reduce.inl. (No include guard on purpose.)

// Pass 1: each row's part of the strip [c0, c1) (a norm's chains), and the strip's column sums,
// rows added in order (one rounding each, no fused multiply-add: the same at every lane width).
template <class T>
void factor_sums(const FactoredTensor& t, int64_t matrix, int64_t c0, int64_t c1, double* col_sums,
                 double* row_partials) {
  using D = Vec<double>;
  constexpr int64_t W = D::kLanes;
  const T* g = static_cast<const T*>(t.grad) + matrix * t.rows * t.cols + c0;
  const int64_t width = c1 - c0;
  for (int64_t c = 0; c < width; ++c) col_sums[c] = 0.0;
  for (int64_t r = 0; r < t.rows; ++r, g += t.cols) {
    row_partials[r] = reduce_span<NormL2, T>(g, width, 2.0);
    int64_t c = 0;
    for (; c + W <= width; c += W) {
      const D x = D::load_widened(g + c);
      (D::load(col_sums + c) + x * x).store(col_sums + c);
    }
    for (; c < width; ++c) {
      const Lane<double> x = Lane<double>::load_widened(g + c);
      col_sums[c] = (Lane<double>(col_sums[c]) + x * x).v;
    }
  }
}

// Between the passes: each row's strips joined in order, the factors' lerps toward their means
// (torch's norm, square, divide), and each matrix's row_var mean (summed in double, in order).
template <class T>
void factor_update(const void* step_ptr, const FactoredTensor& t, int64_t strip, const double* col_sums,
                   const double* row_partials, void* floors_ptr) {
  using L = Lane<T>;
  const AdafactorStep<T> s = *static_cast<const AdafactorStep<T>*>(step_ptr);
  T* row_var = static_cast<T*>(t.row_var);
  T* col_var = static_cast<T*>(t.col_var);
  T* floors = static_cast<T*>(floors_ptr);
  const int64_t matrices = t.size / (t.rows * t.cols), strips = (t.cols + strip - 1) / strip;
  for (int64_t m = 0; m < matrices; ++m, row_var += t.rows, col_var += t.cols) {
    const double* partials = row_partials + m * strips * t.rows;
    double row_var_sum = 0.0;
    for (int64_t r = 0; r < t.rows; ++r) {
      double total = 0.0;
      for (int64_t k = 0; k < strips; ++k) total = total + partials[k * t.rows + r];
      row_var[r] = Adafactor::lerp_factor(s, L(row_var[r]), L(Adafactor::row_mean<T>(total, t.cols))).v;
      row_var_sum = row_var_sum + double(row_var[r]);
    }
    const double* sums = col_sums + m * t.cols;
    for (int64_t c = 0; c < t.cols; ++c)
      col_var[c] = Adafactor::lerp_factor(s, L(col_var[c]), L(Adafactor::row_mean<T>(sums[c], t.rows))).v;
    floors[m] = Adafactor::factor_mean_floor(s, row_var_sum, t.rows);
  }
}

// f(LaneTag<V>{}, i) over [begin, end): lane packs, then single elements.
template <class T, class F>
PYGD_INLINE void for_packs(int64_t begin, int64_t end, F&& f) {
  constexpr int64_t W = Vec<T>::kLanes;
  int64_t i = begin;
  for (; i + W <= end; i += W) f(LaneTag<Vec<T>>{}, i);
  for (; i < end; ++i) f(LaneTag<Lane<T>>{}, i);
}

// u of elements [a, b) of tensor t, into out[0, b - a). An unfactored tensor's new variance is
// stored (pass 2, kStore) or read back (pass 3).
template <bool kStore, class T>
PYGD_INLINE void factored_updates(const AdafactorStep<T>& s, const FactoredTensor& t, int64_t a, int64_t b, T* out) {
  const T* g = static_cast<const T*>(t.grad);
  if (t.rows == 0) {
    T* var = static_cast<T*>(t.variance);
    for_packs<T>(a, b, [&](auto tag, int64_t i) {
      using V = typename decltype(tag)::type;
      const V gi = Adafactor::grad(s, V::load(g + i));
      V v = V::load(var + i);
      if constexpr (kStore) {
        v = Adafactor::variance(s, v, gi);
        v.store(var + i);
      }
      Adafactor::update(s, v, gi).store(out + (i - a));
    });
    return;
  }
  const T* row_var = static_cast<const T*>(t.row_var);
  const T* col_var = static_cast<const T*>(t.col_var);
  const T* floors = static_cast<const T*>(t.mean_floors);
  for (int64_t i = a; i < b;) {
    const int64_t row = i / t.cols;  // of all the matrices': row_var's flat index
    const int64_t matrix = row / t.rows;
    const int64_t row_end = (row + 1) * t.cols < b ? (row + 1) * t.cols : b;
    // col_var's element for flat index j of this row: matrix * cols + (j - row * cols)
    const T* col = col_var + matrix * t.cols - row * t.cols;
    const T row_factor = row_var[row], floor = floors[matrix];
    for_packs<T>(i, row_end, [&](auto tag, int64_t j) {
      using V = typename decltype(tag)::type;
      const V var = Adafactor::factored_variance(V(row_factor), V::load(col + j), V(floor));
      Adafactor::update(s, var, Adafactor::grad(s, V::load(g + j))).store(out + (j - a));
    });
    i = row_end;
  }
}

// Elements are staged kFactoredStage at a time (a multiple of kChains, so the chains see the
// block's elements in order whatever the staging).
constexpr int64_t kFactoredStage = 32 * kChains;

template <class T>
void factored_reduce(const void* step_ptr, const FactoredTensor& t, int64_t begin, int64_t end, double* sums) {
  const AdafactorStep<T> s = *static_cast<const AdafactorStep<T>*>(step_ptr);
  const T* p = static_cast<const T*>(t.param);
  alignas(64) T staged[kFactoredStage];
  Chains<NormL2> param_sums, update_sums;
  int64_t i = begin;
  for (; i < end; i += kFactoredStage) {
    const int64_t n = end - i < kFactoredStage ? end - i : kFactoredStage;
    factored_updates<true>(s, t, i, i + n, staged);
    int64_t k = 0;
    for (; k + kChains <= n; k += kChains) {
      param_sums.add(p + i + k, 0.0);
      update_sums.add(staged + k, 0.0);
    }
    if (k < n) {  // the block's last elements (fewer than kChains), one at a time
      sums[0] = param_sums.finish(p + i + k, n - k, 0.0);
      sums[1] = update_sums.finish(staged + k, n - k, 0.0);
      return;
    }
  }
  sums[0] = param_sums.finish(p, 0, 0.0);
  sums[1] = update_sums.finish(p, 0, 0.0);
}

template <class T>
void factored_apply(const void* step_ptr, const FactoredTensor& t, int64_t begin, int64_t end, double scale) {
  const AdafactorStep<T> s = *static_cast<const AdafactorStep<T>*>(step_ptr);
  T* p = static_cast<T*>(t.param);
  const T tensor_scale = T(scale);
  alignas(64) T staged[kFactoredStage];
  for (int64_t i = begin; i < end; i += kFactoredStage) {
    const int64_t n = end - i < kFactoredStage ? end - i : kFactoredStage;
    factored_updates<false>(s, t, i, i + n, staged);
    T* q = p + i;
    for_packs<T>(0, n, [&](auto tag, int64_t k) {
      using V = typename decltype(tag)::type;
      Adafactor::apply(s, V::load(q + k), V::load(staged + k), V(tensor_scale)).store(q + k);
    });
  }
}

inline FactoredTable make_factored_table() {
  return {{&factor_sums<float>, &factor_sums<double>},
          {&factor_update<float>, &factor_update<double>},
          {&factored_reduce<float>, &factored_reduce<double>},
          {&factored_apply<float>, &factored_apply<double>}};
}
