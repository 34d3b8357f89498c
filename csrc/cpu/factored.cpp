#include "factored.h"

#include <algorithm>

#include "dispatch.h"
#include "parallel.h"
#include "reduce.h"
#include "thread_pool.h"

namespace pygd::cpu {
namespace {

// Runs item(i) for i in [0, count) on up to `threads` threads (one thread: in order, here).
template <class Item>
void for_items(int threads, int64_t count, Item&& item) {
  if (threads <= 1 || count <= 1) {
    for (int64_t i = 0; i < count; ++i) item(i);
    return;
  }
  const int64_t per_chunk = (count + kMaxChunks - 1) / kMaxChunks;
  auto body = [&](int64_t c) {
    for (int64_t i = c * per_chunk; i < std::min(count, (c + 1) * per_chunk); ++i) item(i);
  };
  for_each_chunk(threads, (count + per_chunk - 1) / per_chunk, body);
}

struct Strip {
  int64_t tensor, matrix, c0, c1;
};
struct Block {
  int64_t tensor, begin, end;
};

template <class T>
void run_typed(const AdafactorConfig& config, int64_t step, int dtype, std::vector<FactoredTensor>& tensors) {
  const FactoredTable& table = active_tables().factored;
  const AdafactorStep<T> s = make_step<T>(config, step);
  const size_t count = tensors.size();
  int64_t elements = 0;
  for (const FactoredTensor& t : tensors) elements += t.size;
  const int threads = threads_for(elements);

  // The calling thread's buffers, reused across calls (named through references, as trust.cpp).
  thread_local std::vector<Strip> strips_storage;
  thread_local std::vector<Block> blocks_storage;
  thread_local std::vector<double> col_sums_storage, row_partials_storage, sums_storage;
  thread_local std::vector<int64_t> col_at_storage, row_at_storage, first_block_storage;
  thread_local std::vector<T> floors_storage;
  std::vector<Strip>& strips = strips_storage;
  std::vector<Block>& blocks = blocks_storage;
  std::vector<double>& col_sums = col_sums_storage;
  std::vector<double>& row_partials = row_partials_storage;
  std::vector<double>& sums = sums_storage;
  std::vector<int64_t>& col_at = col_at_storage;  // per tensor: its first col_sums entry
  std::vector<int64_t>& row_at = row_at_storage;  // per tensor: its first row_partials entry
  std::vector<int64_t>& first_block = first_block_storage;
  std::vector<T>& floors = floors_storage;

  // Pass 1: per strip of each matrix of each factored tensor. row_partials holds, per tensor,
  // [matrix][strip][row]; col_sums, per tensor, [matrix][col].
  strips.clear();
  col_at.assign(count + 1, 0);
  row_at.assign(count + 1, 0);
  int64_t matrices_total = 0;
  for (size_t j = 0; j < count; ++j) {
    const FactoredTensor& t = tensors[j];
    col_at[j + 1] = col_at[j];
    row_at[j + 1] = row_at[j];
    if (t.rows == 0 || t.size == 0) continue;
    const int64_t matrices = t.size / (t.rows * t.cols);
    const int64_t strip_count = (t.cols + kFactorStrip - 1) / kFactorStrip;
    for (int64_t m = 0; m < matrices; ++m)
      for (int64_t c0 = 0; c0 < t.cols; c0 += kFactorStrip)
        strips.push_back({int64_t(j), m, c0, std::min(c0 + kFactorStrip, t.cols)});
    col_at[j + 1] += matrices * t.cols;
    row_at[j + 1] += matrices * strip_count * t.rows;
    matrices_total += matrices;
  }
  col_sums.resize(size_t(col_at[count]));
  row_partials.resize(size_t(row_at[count]));
  for_items(threads, int64_t(strips.size()), [&](int64_t i) {
    const Strip& st = strips[size_t(i)];
    const FactoredTensor& t = tensors[size_t(st.tensor)];
    const int64_t strip = st.c0 / kFactorStrip, strip_count = (t.cols + kFactorStrip - 1) / kFactorStrip;
    double* cols = &col_sums[size_t(col_at[size_t(st.tensor)] + st.matrix * t.cols + st.c0)];
    double* rows = &row_partials[size_t(row_at[size_t(st.tensor)] + (st.matrix * strip_count + strip) * t.rows)];
    table.sums[dtype](t, st.matrix, st.c0, st.c1, cols, rows);
  });

  // Between the passes, on this thread: the factors, and each matrix's floored row mean (tiny).
  floors.resize(size_t(matrices_total));
  int64_t floor_at = 0;
  for (size_t j = 0; j < count; ++j) {
    FactoredTensor& t = tensors[j];
    if (t.rows == 0 || t.size == 0) continue;
    t.mean_floors = &floors[size_t(floor_at)];
    table.factors[dtype](&s, t, kFactorStrip, &col_sums[size_t(col_at[j])], &row_partials[size_t(row_at[j])],
                         &floors[size_t(floor_at)]);
    floor_at += t.size / (t.rows * t.cols);
  }

  // Pass 2: every tensor's blocks, their sums of squares.
  blocks.clear();
  first_block.assign(count + 1, 0);
  for (size_t j = 0; j < count; ++j) {
    for (int64_t begin = 0; begin < tensors[j].size; begin += kNormBlock)
      blocks.push_back({int64_t(j), begin, std::min(begin + kNormBlock, tensors[j].size)});
    first_block[j + 1] = int64_t(blocks.size());
  }
  sums.resize(blocks.size() * 2 + count);
  for_items(threads, int64_t(blocks.size()), [&](int64_t i) {
    const Block& b = blocks[size_t(i)];
    table.reduce[dtype](&s, tensors[size_t(b.tensor)], b.begin, b.end, &sums[size_t(i) * 2]);
  });
  // Each tensor's scale from its blocks' sums, joined in order.
  double* scales = &sums[blocks.size() * 2];
  for (size_t j = 0; j < count; ++j) {
    double param_squares = 0.0, update_squares = 0.0;
    for (int64_t b = first_block[j]; b < first_block[j + 1]; ++b) {
      param_squares = param_squares + sums[size_t(b) * 2];
      update_squares = update_squares + sums[size_t(b) * 2 + 1];
    }
    scales[j] = Adafactor::tensor_scale(s, param_squares, update_squares, tensors[j].size);
  }

  // Pass 3: the update, block by block.
  for_items(threads, int64_t(blocks.size()), [&](int64_t i) {
    const Block& b = blocks[size_t(i)];
    table.apply[dtype](&s, tensors[size_t(b.tensor)], b.begin, b.end, scales[b.tensor]);
  });
}

}  // namespace

void run_adafactor(const AdafactorConfig& config, int64_t step, Dtype dtype, std::vector<FactoredTensor>& tensors) {
  if (dtype == Dtype::kFloat32) run_typed<float>(config, step, 0, tensors);
  else run_typed<double>(config, step, 1, tensors);
}

}  // namespace pygd::cpu
