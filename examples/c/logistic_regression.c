/* Logistic regression trained with Adam through pygd's C ABI (pygd.h, libpygd).
 *
 *     cc -O2 -std=c99 logistic_regression.c $(pygd --cflags) $(pygd --libs) -lm -o logreg
 *     ./logreg [epochs]
 *
 * The data are generated here (a fixed xorshift generator, so every run and every language that
 * repeats it gets the same numbers): 512 samples of 8 features, labelled by a known weight vector
 * with some noise. The model is two tensors, the weights and the bias: one pygd_adam_step call
 * updates both (a list of tensors is one call). It prints the loss every 50 epochs, then the
 * weights, one per line as %.17g (tests/test_capi_examples.py compares them with pygd.adam_).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <pygd.h>

#define SAMPLES 512
#define FEATURES 8

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

/* xorshift64*, as a double in [0, 1) */
static double uniform(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double)((rng_state * 0x2545F4914F6CDD1Du) >> 11) * (1.0 / 9007199254740992.0);
}

int main(int argc, char** argv) {
  const int epochs = argc > 1 ? atoi(argv[1]) : 300;
  if (pygd_check_abi(PYGD_ABI_VERSION) != PYGD_OK) {
    fprintf(stderr, "%s\n", pygd_last_error());
    return 1;
  }

  static double x[SAMPLES][FEATURES], y[SAMPLES];
  const double truth[FEATURES] = {1.5, -2.0, 0.5, 0.0, 3.0, -1.0, 0.25, -0.75};
  for (int i = 0; i < SAMPLES; ++i) {
    double z = 0.5;
    for (int j = 0; j < FEATURES; ++j) {
      x[i][j] = 2.0 * uniform() - 1.0;
      z += truth[j] * x[i][j];
    }
    y[i] = (z + 0.5 * (uniform() - 0.5) > 0.0) ? 1.0 : 0.0;
  }

  /* The model and its optimizer state: two tensors (weights, bias), four streams each. */
  double w[FEATURES] = {0}, b[1] = {0};
  double gw[FEATURES], gb[1];
  double mw[FEATURES] = {0}, mb[1] = {0}, vw[FEATURES] = {0}, vb[1] = {0};
  void* params[] = {w, b};
  void* grads[] = {gw, gb};
  void* exp_avgs[] = {mw, mb};
  void* exp_avg_sqs[] = {vw, vb};
  const int64_t sizes[] = {FEATURES, 1};

  pygd_adam_hparams hp;
  pygd_adam_hparams_init(&hp, sizeof hp); /* torch.optim.Adam's defaults */
  hp.lr = 0.05;

  for (int epoch = 1; epoch <= epochs; ++epoch) {
    double loss = 0.0;
    for (int j = 0; j < FEATURES; ++j) gw[j] = 0.0;
    gb[0] = 0.0;
    for (int i = 0; i < SAMPLES; ++i) {
      double z = b[0];
      for (int j = 0; j < FEATURES; ++j) z += w[j] * x[i][j];
      const double p = 1.0 / (1.0 + exp(-z));
      loss -= y[i] * log(p + 1e-12) + (1.0 - y[i]) * log(1.0 - p + 1e-12);
      const double r = (p - y[i]) / SAMPLES;
      for (int j = 0; j < FEATURES; ++j) gw[j] += r * x[i][j];
      gb[0] += r;
    }
    if (pygd_adam_step(PYGD_FLOAT64, 2, sizes, params, grads, exp_avgs, exp_avg_sqs, NULL, epoch, &hp,
                       1.0) != PYGD_OK) {
      fprintf(stderr, "pygd_adam_step: %s\n", pygd_last_error());
      return 1;
    }
    if (epoch % 50 == 0 || epoch == 1) printf("epoch %d loss %.6f\n", epoch, loss / SAMPLES);
  }

  int correct = 0;
  for (int i = 0; i < SAMPLES; ++i) {
    double z = b[0];
    for (int j = 0; j < FEATURES; ++j) z += w[j] * x[i][j];
    correct += (z > 0.0) == (y[i] > 0.5);
  }
  printf("accuracy %.4f\n", (double)correct / SAMPLES);

  /* A rejected call: an error code and pygd's words, nothing written, the process goes on. */
  hp.lr = -1.0;
  if (pygd_adam_step(PYGD_FLOAT64, 2, sizes, params, grads, exp_avgs, exp_avg_sqs, NULL, epochs + 1, &hp,
                     1.0) != PYGD_OK)
    printf("rejected: %s\n", pygd_last_error());

  for (int j = 0; j < FEATURES; ++j) printf("w %.17g\n", w[j]);
  printf("b %.17g\n", b[0]);
  return 0;
}
