// Every update the drivers know, and the gradient reductions. `Optimizers` is the one list of the
// elementwise optimizers: the bindings, the CPU sweep tables and the CUDA module register each of its
// members. `TrustRatioOptimizers` lists those that scale each tensor's update by a ratio of norms
// (trust_ratio.h): the bindings and the CPU trust tables register them (the CUDA module refuses them).
#pragma once
#include "adadelta.h"
#include "adafactor.h"
#include "adagrad.h"
#include "adam.h"
#include "adamax.h"
#include "amp.h"
#include "asgd.h"
#include "grad_norms.h"
#include "grad_ops.h"
#include "lamb.h"
#include "lars.h"
#include "lion.h"
#include "nadam.h"
#include "probe.h"
#include "radam.h"
#include "rmsprop.h"
#include "rprop.h"
#include "sgd.h"

namespace pygd {

template <class... Ts>
struct TypeList {
  static constexpr int size = sizeof...(Ts);
  // f(T{}) for each T, in order (every Op is an empty struct: its members are static).
  template <class F>
  static void for_each(F&& f) {
    (f(Ts{}), ...);
  }
};

using Optimizers = TypeList<Sgd, Adam, Rmsprop, Adagrad, Adamax, Radam, Adadelta, Rprop, Lion, Nadam, Asgd>;
using TrustRatioOptimizers = TypeList<Lamb, Lars>;

}  // namespace pygd
