// The C ABI's per-call overhead: pygd_adam_step (libpygd: checks, then the driver) against the same
// driver called directly (cpu::run<Adam>, what pygd_adam_step ends in), on one 4096-element float32
// tensor, interleaved round by round in one process; the median of the rounds. Built by
// benchmarks/capi_overhead.py (cmake -DPYGD_KERNELS_ONLY=ON, target capi_overhead).
//
//   capi_overhead [elements] [rounds] [calls per round]
//
// Prints "<what> <ns per call>" lines: kernel (the driver alone), capi (pygd_adam_step), capi_empty
// (pygd_adam_step over no tensors: its fixed checks) and overhead (capi - kernel, per round).
#include <pygd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "cpu/parallel.h"
#include "pygd/optimizers.h"

namespace {

double now_ns() {
  return double(std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count());
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 4096;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 300;
  const int calls = argc > 3 ? std::atoi(argv[3]) : 200;
  std::vector<float> p(size_t(n), 1.0f), g(size_t(n), 0.5f), m(size_t(n), 0.0f), v(size_t(n), 0.0f);
  void* params[] = {p.data()};
  void* grads[] = {g.data()};
  void* exp_avgs[] = {m.data()};
  void* exp_avg_sqs[] = {v.data()};
  const int64_t sizes[] = {n};
  pygd_adam_hparams hp;
  pygd_adam_hparams_init(&hp, sizeof hp);

  pygd::AdamConfig config{hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weight_decay, false, false, false};
  pygd::cpu::TensorList list;
  list.reset(5);
  list.pointers = {p.data(), g.data(), m.data(), v.data(), nullptr};
  list.offsets = {0, n};

  std::vector<double> kernel, capi, empty, overhead;
  int64_t step = 1;
  for (int r = 0; r < rounds; ++r) {
    double t0 = now_ns();
    for (int i = 0; i < calls; ++i) pygd::cpu::run<pygd::Adam>(config, step++, pygd::cpu::Dtype::kFloat32, list);
    double t1 = now_ns();
    for (int i = 0; i < calls; ++i)
      if (pygd_adam_step(PYGD_FLOAT32, 1, sizes, params, grads, exp_avgs, exp_avg_sqs, nullptr, step++, &hp, 1.0)) {
        std::fprintf(stderr, "%s\n", pygd_last_error());
        return 1;
      }
    double t2 = now_ns();
    for (int i = 0; i < calls; ++i)
      pygd_adam_step(PYGD_FLOAT32, 0, sizes, params, grads, exp_avgs, exp_avg_sqs, nullptr, step++, &hp, 1.0);
    double t3 = now_ns();
    kernel.push_back((t1 - t0) / calls);
    capi.push_back((t2 - t1) / calls);
    empty.push_back((t3 - t2) / calls);
    overhead.push_back((t2 - t1 - (t1 - t0)) / calls);
    if (step > 1000000) step = 1;
  }
  std::printf("elements %lld\nrounds %d\ncalls %d\nisa %s\nthreads %d\n", (long long)n, rounds, calls, pygd_isa(),
              pygd_get_num_threads());
  std::printf("kernel %.1f\ncapi %.1f\ncapi_empty %.1f\noverhead %.1f\n", median(kernel), median(capi),
              median(empty), median(overhead));
  return 0;
}
