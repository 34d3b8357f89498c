/* pygd.h: the C ABI of pygd's CPU kernels (libpygd), for C, C++, Rust, Julia, Numba (cffi) and any
 * language with a C FFI. C99, fixed-width types, no C++ in the interface.
 *
 *     #include <pygd.h>
 *     pygd_adam_hparams hp;
 *     pygd_adam_hparams_init(&hp, sizeof hp);      torch.optim.Adam's defaults
 *     hp.lr = 1e-2;
 *     void* params[] = {w};  void* grads[] = {g};  void* m[] = {m1};  void* v[] = {v1};
 *     int64_t sizes[] = {n};
 *     int32_t code = pygd_adam_step(PYGD_FLOAT32, 1, sizes, params, grads, m, v, NULL, t, &hp, 1.0);
 *     if (code != PYGD_OK) fprintf(stderr, "%s\n", pygd_last_error());
 *
 * Build: cc prog.c $(pygd --cflags) $(pygd --libs)   (or pkg-config, see docs/c-abi.md).
 *
 * Each optimizer's step runs the same drivers and the same math as pygd's Python functions
 * (pygd.adam_ etc.): the results are bit-identical to them on the same inputs, for any thread
 * count. A step takes a list of `count` tensors: per stream one table of `count` base pointers,
 * tensor j holding sizes[j] contiguous elements of `dtype` in each stream. An optional stream's
 * table may be NULL when its hyperparameters do not need it (and is ignored then). Everything is
 * checked before anything is written: on an error a step returns a nonzero code, writes nothing,
 * and pygd_last_error() words the problem as pygd's Python functions do. No call aborts the
 * process or lets a C++ exception out.
 *
 * ABI stability: PYGD_ABI_VERSION is raised only by an incompatible change (a removed or changed
 * function, a reordered field). Within one ABI version functions and optimizers are only added,
 * and a hyperparameter struct only gains fields at its end. Each struct carries its size (set by
 * its init function): a library newer than the header reads the fields the caller knows and gives
 * the others their defaults; one older than the header rejects a struct larger than it knows
 * (PYGD_ERROR_VERSION). Check the library at run time with pygd_check_abi(PYGD_ABI_VERSION).
 */
#ifndef PYGD_H
#define PYGD_H

#include <stdint.h>

#if defined(_WIN32) && defined(PYGD_BUILDING)
#define PYGD_API __declspec(dllexport)
#elif defined(_WIN32)
#define PYGD_API __declspec(dllimport)
#else
#define PYGD_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* PYGD_CDEF_BEGIN: from here to PYGD_CDEF_END, plain declarations (what pygd.capi gives cffi). */

#define PYGD_ABI_VERSION 1

/* dtype of a step's arrays */
#define PYGD_FLOAT32 0
#define PYGD_FLOAT64 1

/* Return codes. PYGD_ERROR_TYPE and PYGD_ERROR_VALUE are the problems pygd's Python functions raise
 * as TypeError and ValueError, with the same words (pygd_last_error). */
#define PYGD_OK 0
#define PYGD_ERROR_VALUE 1
#define PYGD_ERROR_TYPE 2
#define PYGD_ERROR_VERSION 3
#define PYGD_ERROR_INTERNAL 4

/* The library's ABI version (PYGD_ABI_VERSION as it was built) and pygd's version ("0.1.0"). */
PYGD_API uint32_t pygd_abi_version(void);
PYGD_API const char* pygd_version(void);
/* PYGD_OK if this library serves callers built against `header_abi_version` (pass
 * PYGD_ABI_VERSION), else PYGD_ERROR_VERSION, with the reason in pygd_last_error(). */
PYGD_API int32_t pygd_check_abi(uint32_t header_abi_version);

/* The message of the last failed call on this thread ("" after a successful one). The text stays
 * valid until this thread's next pygd call. */
PYGD_API const char* pygd_last_error(void);

/* Threads: the count a step made now on this thread uses; set one (n <= 0: let the environment
 * decide again: OMP_NUM_THREADS, CPU affinity, cgroup quota). libpygd has its own thread pool and
 * count, apart from those of pygd's Python module in the same process. Results do not depend on
 * the count. */
PYGD_API int32_t pygd_get_num_threads(void);
PYGD_API int32_t pygd_set_num_threads(int32_t n);

/* Instruction sets: the level in use ("scalar", "avx2", "avx512", "neon"), the levels this CPU
 * runs (comma-separated, lowest first), and a choice of one (PYGD_ERROR_VALUE if it cannot run). */
PYGD_API const char* pygd_isa(void);
PYGD_API const char* pygd_supported_isas(void);
PYGD_API int32_t pygd_set_isa(const char* name);

/* BEGIN GENERATED (python -m pygd._capigen, from pygd/_specs.py): do not edit by hand. */
#define PYGD_VERSION_STRING "0.1.0"

/* ---- sgd: torch.optim.SGD, pygd.sgd_. SGD, with optional momentum, dampening, Nesterov
 * momentum and (coupled) weight decay. */
typedef struct pygd_sgd_hparams {
  uint32_t size; /* sizeof(pygd_sgd_hparams): set by pygd_sgd_hparams_init */
  double lr; /* default 0.001 */
  double momentum; /* default 0.0 */
  double dampening; /* default 0.0 */
  double weight_decay; /* default 0.0 */
  int32_t nesterov; /* default 0 */
  int32_t maximize; /* default 0 */
} pygd_sgd_hparams;
/* Sets torch's defaults; `size` is sizeof *hparams. */
PYGD_API void pygd_sgd_hparams_init(pygd_sgd_hparams* hparams, uint32_t size);
/* Streams: params, grads, momentum_buffers. The grads are read (and stored back divided by
 * grad_scale when it is not 1: GradScaler's loss scale), the others updated in place.
 * momentum_buffers (needed when momentum != 0, else it may be NULL). step: the 1-based step
 * count. */
PYGD_API int32_t pygd_sgd_step(int32_t dtype, int64_t count, const int64_t* sizes,
    void* const* params, void* const* grads, void* const* momentum_buffers, int64_t step,
    const pygd_sgd_hparams* hparams, double grad_scale);

/* ---- adam: torch.optim.Adam, pygd.adam_. Adam, with coupled (L2) weight decay and optional
 * AMSGrad. */
typedef struct pygd_adam_hparams {
  uint32_t size; /* sizeof(pygd_adam_hparams): set by pygd_adam_hparams_init */
  double lr; /* default 0.001 */
  double beta1; /* default 0.9 */
  double beta2; /* default 0.999 */
  double eps; /* default 1e-08 */
  double weight_decay; /* default 0.0 */
  int32_t amsgrad; /* default 0 */
  int32_t maximize; /* default 0 */
} pygd_adam_hparams;
/* Sets torch's defaults; `size` is sizeof *hparams. */
PYGD_API void pygd_adam_hparams_init(pygd_adam_hparams* hparams, uint32_t size);
/* Streams: params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs. The grads are read (and stored
 * back divided by grad_scale when it is not 1: GradScaler's loss scale), the others updated in
 * place. max_exp_avg_sqs (needed when amsgrad=True, else it may be NULL). step: the 1-based step
 * count. */
PYGD_API int32_t pygd_adam_step(int32_t dtype, int64_t count, const int64_t* sizes,
    void* const* params, void* const* grads, void* const* exp_avgs, void* const* exp_avg_sqs,
    void* const* max_exp_avg_sqs, int64_t step, const pygd_adam_hparams* hparams,
    double grad_scale);

/* ---- adamw: torch.optim.AdamW, pygd.adamw_. AdamW: Adam with decoupled weight decay, param *=
 * 1 - lr * weight_decay before the update. */
typedef struct pygd_adamw_hparams {
  uint32_t size; /* sizeof(pygd_adamw_hparams): set by pygd_adamw_hparams_init */
  double lr; /* default 0.001 */
  double beta1; /* default 0.9 */
  double beta2; /* default 0.999 */
  double eps; /* default 1e-08 */
  double weight_decay; /* default 0.01 */
  int32_t amsgrad; /* default 0 */
  int32_t maximize; /* default 0 */
} pygd_adamw_hparams;
/* Sets torch's defaults; `size` is sizeof *hparams. */
PYGD_API void pygd_adamw_hparams_init(pygd_adamw_hparams* hparams, uint32_t size);
/* Streams: params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs. The grads are read (and stored
 * back divided by grad_scale when it is not 1: GradScaler's loss scale), the others updated in
 * place. max_exp_avg_sqs (needed when amsgrad=True, else it may be NULL). step: the 1-based step
 * count. */
PYGD_API int32_t pygd_adamw_step(int32_t dtype, int64_t count, const int64_t* sizes,
    void* const* params, void* const* grads, void* const* exp_avgs, void* const* exp_avg_sqs,
    void* const* max_exp_avg_sqs, int64_t step, const pygd_adamw_hparams* hparams,
    double grad_scale);

/* ---- rmsprop: torch.optim.RMSprop, pygd.rmsprop_. RMSprop, optionally centered and with
 * momentum. */
typedef struct pygd_rmsprop_hparams {
  uint32_t size; /* sizeof(pygd_rmsprop_hparams): set by pygd_rmsprop_hparams_init */
  double lr; /* default 0.01 */
  double alpha; /* default 0.99 */
  double eps; /* default 1e-08 */
  double weight_decay; /* default 0.0 */
  double momentum; /* default 0.0 */
  int32_t centered; /* default 0 */
  int32_t maximize; /* default 0 */
} pygd_rmsprop_hparams;
/* Sets torch's defaults; `size` is sizeof *hparams. */
PYGD_API void pygd_rmsprop_hparams_init(pygd_rmsprop_hparams* hparams, uint32_t size);
/* Streams: params, grads, square_avgs, momentum_buffers, grad_avgs. The grads are read (and
 * stored back divided by grad_scale when it is not 1: GradScaler's loss scale), the others
 * updated in place. momentum_buffers (needed when momentum > 0, else it may be NULL); grad_avgs
 * (needed when centered=True, else it may be NULL). No step count: the update does not depend on
 * it. */
PYGD_API int32_t pygd_rmsprop_step(int32_t dtype, int64_t count, const int64_t* sizes,
    void* const* params, void* const* grads, void* const* square_avgs,
    void* const* momentum_buffers, void* const* grad_avgs, const pygd_rmsprop_hparams* hparams,
    double grad_scale);

/* ---- adagrad: torch.optim.Adagrad, pygd.adagrad_. Adagrad with learning-rate decay lr / (1 +
 * (step - 1) * lr_decay). */
typedef struct pygd_adagrad_hparams {
  uint32_t size; /* sizeof(pygd_adagrad_hparams): set by pygd_adagrad_hparams_init */
  double lr; /* default 0.01 */
  double lr_decay; /* default 0.0 */
  double weight_decay; /* default 0.0 */
  double eps; /* default 1e-10 */
  int32_t maximize; /* default 0 */
} pygd_adagrad_hparams;
/* Sets torch's defaults; `size` is sizeof *hparams. */
PYGD_API void pygd_adagrad_hparams_init(pygd_adagrad_hparams* hparams, uint32_t size);
/* Streams: params, grads, state_sums. The grads are read (and stored back divided by grad_scale
 * when it is not 1: GradScaler's loss scale), the others updated in place. step: the 1-based
 * step count. */
PYGD_API int32_t pygd_adagrad_step(int32_t dtype, int64_t count, const int64_t* sizes,
    void* const* params, void* const* grads, void* const* state_sums, int64_t step,
    const pygd_adagrad_hparams* hparams, double grad_scale);

/* ---- adamax: torch.optim.Adamax, pygd.adamax_. Adamax: Adam's bias-corrected first moment over
 * an exponentially weighted infinity norm, */
typedef struct pygd_adamax_hparams {
  uint32_t size; /* sizeof(pygd_adamax_hparams): set by pygd_adamax_hparams_init */
  double lr; /* default 0.002 */
  double beta1; /* default 0.9 */
  double beta2; /* default 0.999 */
  double eps; /* default 1e-08 */
  double weight_decay; /* default 0.0 */
  int32_t maximize; /* default 0 */
} pygd_adamax_hparams;
/* Sets torch's defaults; `size` is sizeof *hparams. */
PYGD_API void pygd_adamax_hparams_init(pygd_adamax_hparams* hparams, uint32_t size);
/* Streams: params, grads, exp_avgs, exp_infs. The grads are read (and stored back divided by
 * grad_scale when it is not 1: GradScaler's loss scale), the others updated in place. step: the
 * 1-based step count. */
PYGD_API int32_t pygd_adamax_step(int32_t dtype, int64_t count, const int64_t* sizes,
    void* const* params, void* const* grads, void* const* exp_avgs, void* const* exp_infs,
    int64_t step, const pygd_adamax_hparams* hparams, double grad_scale);

/* ---- radam: torch.optim.RAdam, pygd.radam_. RAdam: Adam with its adaptive step rectified by
 * the variance of the second moment's */
typedef struct pygd_radam_hparams {
  uint32_t size; /* sizeof(pygd_radam_hparams): set by pygd_radam_hparams_init */
  double lr; /* default 0.001 */
  double beta1; /* default 0.9 */
  double beta2; /* default 0.999 */
  double eps; /* default 1e-08 */
  double weight_decay; /* default 0.0 */
  int32_t decoupled; /* default 0 */
  int32_t maximize; /* default 0 */
} pygd_radam_hparams;
/* Sets torch's defaults; `size` is sizeof *hparams. */
PYGD_API void pygd_radam_hparams_init(pygd_radam_hparams* hparams, uint32_t size);
/* Streams: params, grads, exp_avgs, exp_avg_sqs. The grads are read (and stored back divided by
 * grad_scale when it is not 1: GradScaler's loss scale), the others updated in place. step: the
 * 1-based step count. */
PYGD_API int32_t pygd_radam_step(int32_t dtype, int64_t count, const int64_t* sizes,
    void* const* params, void* const* grads, void* const* exp_avgs, void* const* exp_avg_sqs,
    int64_t step, const pygd_radam_hparams* hparams, double grad_scale);

/* ---- adadelta: torch.optim.Adadelta, pygd.adadelta_. Adadelta: delta = sqrt(acc_delta + eps) /
 * sqrt(square_avg + eps) * grad, both running */
typedef struct pygd_adadelta_hparams {
  uint32_t size; /* sizeof(pygd_adadelta_hparams): set by pygd_adadelta_hparams_init */
  double lr; /* default 1.0 */
  double rho; /* default 0.9 */
  double eps; /* default 1e-06 */
  double weight_decay; /* default 0.0 */
  int32_t maximize; /* default 0 */
} pygd_adadelta_hparams;
/* Sets torch's defaults; `size` is sizeof *hparams. */
PYGD_API void pygd_adadelta_hparams_init(pygd_adadelta_hparams* hparams, uint32_t size);
/* Streams: params, grads, square_avgs, acc_deltas. The grads are read (and stored back divided
 * by grad_scale when it is not 1: GradScaler's loss scale), the others updated in place. No step
 * count: the update does not depend on it. */
PYGD_API int32_t pygd_adadelta_step(int32_t dtype, int64_t count, const int64_t* sizes,
    void* const* params, void* const* grads, void* const* square_avgs, void* const* acc_deltas,
    const pygd_adadelta_hparams* hparams, double grad_scale);

/* ---- rprop: torch.optim.Rprop, pygd.rprop_. Rprop (resilient backpropagation): each element's
 * step size grows by etaplus while its */
typedef struct pygd_rprop_hparams {
  uint32_t size; /* sizeof(pygd_rprop_hparams): set by pygd_rprop_hparams_init */
  double etaminus; /* default 0.5 */
  double etaplus; /* default 1.2 */
  double step_size_min; /* default 1e-06 */
  double step_size_max; /* default 50.0 */
  int32_t maximize; /* default 0 */
} pygd_rprop_hparams;
/* Sets torch's defaults; `size` is sizeof *hparams. */
PYGD_API void pygd_rprop_hparams_init(pygd_rprop_hparams* hparams, uint32_t size);
/* Streams: params, grads, prevs, step_sizes. The grads are read (and stored back divided by
 * grad_scale when it is not 1: GradScaler's loss scale), the others updated in place. No step
 * count: the update does not depend on it. */
PYGD_API int32_t pygd_rprop_step(int32_t dtype, int64_t count, const int64_t* sizes,
    void* const* params, void* const* grads, void* const* prevs, void* const* step_sizes,
    const pygd_rprop_hparams* hparams, double grad_scale);

/* ---- nadam: torch.optim.NAdam, pygd.nadam_. NAdam: Adam with Nesterov momentum, through the
 * momentum schedule */
typedef struct pygd_nadam_hparams {
  uint32_t size; /* sizeof(pygd_nadam_hparams): set by pygd_nadam_hparams_init */
  double lr; /* default 0.002 */
  double beta1; /* default 0.9 */
  double beta2; /* default 0.999 */
  double eps; /* default 1e-08 */
  double weight_decay; /* default 0.0 */
  double momentum_decay; /* default 0.004 */
  double mu_product; /* default none: NaN until set (required) */
  int32_t decoupled; /* default 0 */
  int32_t maximize; /* default 0 */
} pygd_nadam_hparams;
/* Sets torch's defaults; `size` is sizeof *hparams. */
PYGD_API void pygd_nadam_hparams_init(pygd_nadam_hparams* hparams, uint32_t size);
/* Streams: params, grads, exp_avgs, exp_avg_sqs. The grads are read (and stored back divided by
 * grad_scale when it is not 1: GradScaler's loss scale), the others updated in place. step: the
 * 1-based step count. */
PYGD_API int32_t pygd_nadam_step(int32_t dtype, int64_t count, const int64_t* sizes,
    void* const* params, void* const* grads, void* const* exp_avgs, void* const* exp_avg_sqs,
    int64_t step, const pygd_nadam_hparams* hparams, double grad_scale);

/* ---- asgd: torch.optim.ASGD, pygd.asgd_. ASGD (averaged SGD): param = param * (1 - lambd *
 * eta) - eta * grad, and ax, the running */
typedef struct pygd_asgd_hparams {
  uint32_t size; /* sizeof(pygd_asgd_hparams): set by pygd_asgd_hparams_init */
  double lambd; /* default 0.0001 */
  double eta; /* default none: NaN until set (required) */
  double mu; /* default none: NaN until set (required) */
  double weight_decay; /* default 0.0 */
  int32_t maximize; /* default 0 */
} pygd_asgd_hparams;
/* Sets torch's defaults; `size` is sizeof *hparams. */
PYGD_API void pygd_asgd_hparams_init(pygd_asgd_hparams* hparams, uint32_t size);
/* Streams: params, grads, axs. The grads are read (and stored back divided by grad_scale when it
 * is not 1: GradScaler's loss scale), the others updated in place. No step count: the update
 * does not depend on it. */
PYGD_API int32_t pygd_asgd_step(int32_t dtype, int64_t count, const int64_t* sizes,
    void* const* params, void* const* grads, void* const* axs, const pygd_asgd_hparams* hparams,
    double grad_scale);

/* ---- lion: pygd.lion_. Lion (Chen et al. 2023): param -= lr * sign(beta1 * exp_avg + (1 -
 * beta1) * grad), then */
typedef struct pygd_lion_hparams {
  uint32_t size; /* sizeof(pygd_lion_hparams): set by pygd_lion_hparams_init */
  double lr; /* default 0.0001 */
  double beta1; /* default 0.9 */
  double beta2; /* default 0.99 */
  double weight_decay; /* default 0.0 */
  int32_t maximize; /* default 0 */
} pygd_lion_hparams;
/* Sets torch's defaults; `size` is sizeof *hparams. */
PYGD_API void pygd_lion_hparams_init(pygd_lion_hparams* hparams, uint32_t size);
/* Streams: params, grads, exp_avgs. The grads are read (and stored back divided by grad_scale
 * when it is not 1: GradScaler's loss scale), the others updated in place. No step count: the
 * update does not depend on it. */
PYGD_API int32_t pygd_lion_step(int32_t dtype, int64_t count, const int64_t* sizes,
    void* const* params, void* const* grads, void* const* exp_avgs,
    const pygd_lion_hparams* hparams, double grad_scale);

/* ---- lamb: pygd.lamb_. LAMB (You et al. 2019), as optax.lamb: Adam's bias-corrected direction */
typedef struct pygd_lamb_hparams {
  uint32_t size; /* sizeof(pygd_lamb_hparams): set by pygd_lamb_hparams_init */
  double lr; /* default 0.001 */
  double beta1; /* default 0.9 */
  double beta2; /* default 0.999 */
  double eps; /* default 1e-06 */
  double weight_decay; /* default 0.0 */
  int32_t trust_ratio; /* default 1 */
  int32_t maximize; /* default 0 */
} pygd_lamb_hparams;
/* Sets torch's defaults; `size` is sizeof *hparams. */
PYGD_API void pygd_lamb_hparams_init(pygd_lamb_hparams* hparams, uint32_t size);
/* Streams: params, grads, exp_avgs, exp_avg_sqs. The grads are read (and stored back divided by
 * grad_scale when it is not 1: GradScaler's loss scale), the others updated in place. step: the
 * 1-based step count. */
PYGD_API int32_t pygd_lamb_step(int32_t dtype, int64_t count, const int64_t* sizes,
    void* const* params, void* const* grads, void* const* exp_avgs, void* const* exp_avg_sqs,
    int64_t step, const pygd_lamb_hparams* hparams, double grad_scale);

/* ---- lars: pygd.lars_. LARS (You et al. 2017), as optax.lars: u = grad + weight_decay * param,
 * scaled per */
typedef struct pygd_lars_hparams {
  uint32_t size; /* sizeof(pygd_lars_hparams): set by pygd_lars_hparams_init */
  double lr; /* default 1.0 */
  double momentum; /* default 0.9 */
  double weight_decay; /* default 0.0 */
  double trust_coefficient; /* default 0.001 */
  double eps; /* default 0.0 */
  int32_t nesterov; /* default 0 */
  int32_t trust_ratio; /* default 1 */
  int32_t maximize; /* default 0 */
} pygd_lars_hparams;
/* Sets torch's defaults; `size` is sizeof *hparams. */
PYGD_API void pygd_lars_hparams_init(pygd_lars_hparams* hparams, uint32_t size);
/* Streams: params, grads, momentum_buffers. The grads are read (and stored back divided by
 * grad_scale when it is not 1: GradScaler's loss scale), the others updated in place.
 * momentum_buffers (needed when momentum != 0, else it may be NULL). No step count: the update
 * does not depend on it. */
PYGD_API int32_t pygd_lars_step(int32_t dtype, int64_t count, const int64_t* sizes,
    void* const* params, void* const* grads, void* const* momentum_buffers,
    const pygd_lars_hparams* hparams, double grad_scale);
/* END GENERATED */

/* PYGD_CDEF_END */

#ifdef __cplusplus
}
#endif

#endif /* PYGD_H */
