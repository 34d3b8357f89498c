#include "trust.h"

#include <algorithm>
#include <vector>

#include "reduce.h"
#include "thread_pool.h"

namespace pygd::cpu {
namespace {

// One work item of the first pool call: a block of a tensor, [begin, end) of tensor `tensor`.
// A tensor of one block (at most kNormBlock elements) is one item that runs both passes, one after
// the other while its arrays are still in this core's cache: the second pass then costs no memory
// traffic. A larger tensor's blocks run pass 1 only; its pass 2 waits for all of them.
struct Item {
  int64_t tensor, begin, end;
};

struct ApplyContext {
  const TrustPasses* passes;
  const void* step;
  const TensorList* list;
  const double* scales;
};

void apply_range(void* context, int64_t j, int64_t begin, int64_t end) {
  const auto& c = *static_cast<const ApplyContext*>(context);
  c.passes->apply(c.step, &c.list->pointers[size_t(j) * c.list->streams], begin, end, c.scales[j]);
}

// A tensor's scale from its blocks' sums, joined in order (as combine_spans joins a norm's blocks).
double tensor_scale(const TrustPasses& passes, const void* step, const double* sums, int64_t blocks) {
  double param_squares = 0.0, update_squares = 0.0;
  for (int64_t b = 0; b < blocks; ++b) {
    param_squares = param_squares + sums[2 * b];
    update_squares = update_squares + sums[2 * b + 1];
  }
  return passes.scale(step, param_squares, update_squares);
}

}  // namespace

void parallel_trust(const TrustPasses& passes, const void* step, const TensorList& list) {
  // The calling thread's buffers, reused across calls; named through references so that the pool's
  // workers write the caller's vectors, not thread_local copies of their own (as reduce.cpp).
  thread_local std::vector<Item> items_storage;
  thread_local std::vector<int64_t> first_item_storage;
  thread_local std::vector<double> sums_storage, large_scales_storage;
  thread_local TensorList large_storage;
  std::vector<Item>& items = items_storage;
  std::vector<int64_t>& first_item = first_item_storage;
  std::vector<double>& sums = sums_storage;
  std::vector<double>& large_scales = large_scales_storage;
  TensorList& large = large_storage;

  const int64_t tensors = list.tensors();
  items.clear();
  first_item.assign(size_t(tensors) + 1, 0);
  for (int64_t j = 0; j < tensors; ++j) {
    const int64_t size = list.offsets[j + 1] - list.offsets[j];
    for (int64_t begin = 0; begin < size; begin += kNormBlock)
      items.push_back({j, begin, std::min(begin + kNormBlock, size)});
    first_item[size_t(j) + 1] = int64_t(items.size());
  }
  sums.assign(items.size() * 2, 0.0);

  // Pool call 1: pass 1 of every block, and pass 2 of every one-block tensor right after its pass 1.
  auto run_item = [&](int64_t i) {
    const Item& item = items[size_t(i)];
    void* const* pointers = &list.pointers[size_t(item.tensor) * list.streams];
    passes.reduce(step, pointers, item.begin, item.end, &sums[size_t(i) * 2]);
    if (first_item[size_t(item.tensor) + 1] - first_item[size_t(item.tensor)] == 1) {
      passes.apply(step, pointers, item.begin, item.end, tensor_scale(passes, step, &sums[size_t(i) * 2], 1));
    }
  };
  const int64_t count = int64_t(items.size());
  const int threads = threads_for(list.elements());
  if (threads <= 1) {
    for (int64_t i = 0; i < count; ++i) run_item(i);
  } else {
    const int64_t per_chunk = (count + kMaxChunks - 1) / kMaxChunks;
    auto body = [&](int64_t c) {
      for (int64_t i = c * per_chunk; i < std::min(count, (c + 1) * per_chunk); ++i) run_item(i);
    };
    for_each_chunk(threads, (count + per_chunk - 1) / per_chunk, body);
  }

  // The tensors of several blocks: their scales, then pool call 2, their pass 2, split by elements
  // as the elementwise sweeps are. (An empty tensor has no block and nothing to update.)
  large.reset(list.streams);
  large_scales.clear();
  for (int64_t j = 0; j < tensors; ++j) {
    const int64_t blocks = first_item[size_t(j) + 1] - first_item[size_t(j)];
    if (blocks < 2) continue;
    large_scales.push_back(tensor_scale(passes, step, &sums[size_t(first_item[size_t(j)]) * 2], blocks));
    for (int k = 0; k < list.streams; ++k) large.pointers.push_back(list.pointers[size_t(j) * list.streams + k]);
    large.offsets.push_back(large.offsets.back() + list.offsets[j + 1] - list.offsets[j]);
  }
  if (large.elements() == 0) return;
  ApplyContext context{&passes, step, &large, large_scales.data()};
  parallel_ranges(&apply_range, &context, large);
}

}  // namespace pygd::cpu
