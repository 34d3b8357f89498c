/* A C program written from pygd.h alone (tests/test_capi_examples.py builds it with the system
 * compiler against the installed header and library).
 *
 *   adam_from_header steps IN OUT   reads IN: int32 dtype (PYGD_FLOAT32/64), int64 count, int64 steps,
 *                                   count int64 sizes, the params, then per step the grads (all
 *                                   tensors back to back, in the dtype); runs `steps` Adam steps
 *                                   (lr 1e-2, betas (0.8, 0.99), eps 1e-6, weight_decay 0.1, amsgrad,
 *                                   maximize) over the list; writes params, exp_avgs, exp_avg_sqs,
 *                                   max_exp_avg_sqs to OUT.
 *   adam_from_header errors         makes bad calls, prints "code: message" for each, and exits 0:
 *                                   bad input never ends the process.
 */
#include <pygd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_all(FILE* f, void* p, size_t n) { return fread(p, 1, n, f) == n; }

static int run(const char* in_path, const char* out_path) {
  FILE* in = fopen(in_path, "rb");
  if (!in) return 2;
  int32_t dtype;
  int64_t count, steps;
  if (!read_all(in, &dtype, 4) || !read_all(in, &count, 8) || !read_all(in, &steps, 8)) return 3;
  const size_t item = dtype == PYGD_FLOAT32 ? 4 : 8;
  int64_t* sizes = malloc(sizeof(int64_t) * (size_t)count);
  if (!read_all(in, sizes, sizeof(int64_t) * (size_t)count)) return 3;
  int64_t total = 0;
  for (int64_t j = 0; j < count; ++j) total += sizes[j];
  /* one buffer per stream, tensors back to back; each tensor its own pointer */
  char* streams[5];
  void** tables[5];
  for (int k = 0; k < 5; ++k) {
    streams[k] = calloc((size_t)total + 1, item);
    tables[k] = malloc(sizeof(void*) * (size_t)count);
    int64_t at = 0;
    for (int64_t j = 0; j < count; ++j) {
      tables[k][j] = streams[k] + (size_t)at * item;
      at += sizes[j];
    }
  }
  if (!read_all(in, streams[0], (size_t)total * item)) return 3;
  pygd_adam_hparams hp;
  pygd_adam_hparams_init(&hp, sizeof hp);
  hp.lr = 1e-2;
  hp.beta1 = 0.8;
  hp.beta2 = 0.99;
  hp.eps = 1e-6;
  hp.weight_decay = 0.1;
  hp.amsgrad = 1;
  hp.maximize = 1;
  for (int64_t t = 1; t <= steps; ++t) {
    if (!read_all(in, streams[1], (size_t)total * item)) return 3;
    if (pygd_adam_step(dtype, count, sizes, tables[0], tables[1], tables[2], tables[3], tables[4], t, &hp, 1.0) !=
        PYGD_OK) {
      fprintf(stderr, "%s\n", pygd_last_error());
      return 4;
    }
  }
  fclose(in);
  FILE* out = fopen(out_path, "wb");
  const int order[] = {0, 2, 3, 4};
  for (int k = 0; k < 4; ++k) fwrite(streams[order[k]], item, (size_t)total, out);
  fclose(out);
  return 0;
}

static void report(int32_t code) { printf("%d: %s\n", code, pygd_last_error()); }

static int errors(void) {
  double p[4] = {1, 2, 3, 4}, g[4] = {1, 1, 1, 1}, m[4] = {0}, v[4] = {0};
  void* pp[] = {p};
  void* gg[] = {g};
  void* mm[] = {m};
  void* vv[] = {v};
  void* null_entry[] = {NULL};
  void* odd[] = {(char*)p + 1};
  void* alias[] = {p};
  int64_t sizes[] = {4}, negative[] = {-1};
  pygd_adam_hparams hp;
  pygd_adam_hparams_init(&hp, sizeof hp);
  report(pygd_adam_step(PYGD_FLOAT64, 1, sizes, NULL, gg, mm, vv, NULL, 1, &hp, 1.0));
  report(pygd_adam_step(PYGD_FLOAT64, 1, sizes, null_entry, gg, mm, vv, NULL, 1, &hp, 1.0));
  report(pygd_adam_step(PYGD_FLOAT64, 1, negative, pp, gg, mm, vv, NULL, 1, &hp, 1.0));
  report(pygd_adam_step(PYGD_FLOAT64, -5, sizes, pp, gg, mm, vv, NULL, 1, &hp, 1.0));
  report(pygd_adam_step(PYGD_FLOAT64, 1, sizes, odd, gg, mm, vv, NULL, 1, &hp, 1.0));
  report(pygd_adam_step(PYGD_FLOAT64, 1, sizes, pp, gg, alias, vv, NULL, 1, &hp, 1.0));
  report(pygd_adam_step(42, 1, sizes, pp, gg, mm, vv, NULL, 1, &hp, 1.0));
  report(pygd_adam_step(PYGD_FLOAT64, 1, sizes, pp, gg, mm, vv, NULL, 0, &hp, 1.0));
  report(pygd_adam_step(PYGD_FLOAT64, 1, sizes, pp, gg, mm, vv, NULL, 1, NULL, 1.0));
  hp.amsgrad = 1;
  report(pygd_adam_step(PYGD_FLOAT64, 1, sizes, pp, gg, mm, vv, NULL, 1, &hp, 1.0));
  hp.amsgrad = 0;
  hp.beta1 = 1.0;
  report(pygd_adam_step(PYGD_FLOAT64, 1, sizes, pp, gg, mm, vv, NULL, 1, &hp, 1.0));
  hp.beta1 = 0.9;
  hp.size = 0;
  report(pygd_adam_step(PYGD_FLOAT64, 1, sizes, pp, gg, mm, vv, NULL, 1, &hp, 1.0));
  report(pygd_check_abi(PYGD_ABI_VERSION + 1));
  const double untouched[4] = {1, 2, 3, 4};
  printf("unchanged %d\n", memcmp(p, untouched, sizeof p) == 0);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "errors") == 0) return errors();
  if (argc == 4 && strcmp(argv[1], "steps") == 0) return run(argv[2], argv[3]);
  fprintf(stderr, "usage: %s errors | steps IN OUT\n", argv[0]);
  return 2;
}
