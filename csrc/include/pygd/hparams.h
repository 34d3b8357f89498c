// Hyperparameters of each optimizer (as the user gives them) and the per-call scalars derived from
// them on the host in double precision, once per call, then narrowed to the element type T.
// Each Config names its fields once, in `fields`: hyperparameters cross from Python by those names
// (csrc/bindings/config_fields.h, which the native and CUDA modules share; pygd/_specs.py reads
// the names the module exports), never by a position written down twice.
// Drivers hand a Step<T> to the per-element update; nothing here depends on the instruction set.
// make_step is also callable on a GPU (PYGD_HD): the CUDA kernels make the step there, still in
// double, when the step count lives in device memory (torch's step tensors; see csrc/cuda/kernel.cuh).
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

#include "lerp.h"

namespace pygd {

struct SgdConfig {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, maximize;

  template <class C, class Visit>
  static void fields(C& c, Visit&& field) {
    field("lr", c.lr); field("momentum", c.momentum); field("dampening", c.dampening);
    field("weight_decay", c.weight_decay); field("nesterov", c.nesterov); field("maximize", c.maximize);
  }
};

template <class T>
struct SgdStep {
  T neg_lr, momentum, one_minus_dampening, weight_decay;
  bool has_momentum, first_step, nesterov, maximize, has_weight_decay;
};

template <class T>
PYGD_HD SgdStep<T> make_step(const SgdConfig& c, int64_t step) {
  return {T(-c.lr), T(c.momentum), T(1.0 - c.dampening), T(c.weight_decay),
          c.momentum != 0.0, step == 1, c.nesterov, c.maximize, c.weight_decay != 0.0};
}

// Adam and AdamW share one config: `decoupled` selects AdamW's weight decay.
struct AdamConfig {
  double lr, beta1, beta2, eps, weight_decay;
  bool amsgrad, maximize, decoupled;

  template <class C, class Visit>
  static void fields(C& c, Visit&& field) {
    field("lr", c.lr); field("beta1", c.beta1); field("beta2", c.beta2); field("eps", c.eps);
    field("weight_decay", c.weight_decay); field("amsgrad", c.amsgrad); field("maximize", c.maximize);
    field("decoupled", c.decoupled);
  }
};

template <class T>
struct AdamStep {
  LerpWeight<T> exp_avg_weight;  // 1 - beta1
  T beta2, one_minus_beta2;
  T neg_step_size;   // -lr / (1 - beta1^t)
  T bc2_sqrt;        // sqrt(1 - beta2^t): divided by in the loop, as torch does (not a multiply by
                     // its reciprocal, which rounds differently)
  T eps, weight_decay;
  T param_scale;     // 1 - lr * weight_decay (AdamW)
  bool amsgrad, maximize, coupled_decay, decoupled_decay;
};

template <class T>
PYGD_HD AdamStep<T> make_step(const AdamConfig& c, int64_t step) {
  const double t = double(step);
  const double bc1 = 1.0 - std::pow(c.beta1, t);
  const double bc2 = 1.0 - std::pow(c.beta2, t);
  const bool decay = c.weight_decay != 0.0;
  return {make_lerp_weight<T>(1.0 - c.beta1), T(c.beta2), T(1.0 - c.beta2), T(-(c.lr / bc1)), T(std::sqrt(bc2)),
          T(c.eps), T(c.weight_decay), T(1.0 - c.lr * c.weight_decay),
          c.amsgrad, c.maximize, decay && !c.decoupled, decay && c.decoupled};
}

struct RmspropConfig {
  double lr, alpha, eps, weight_decay, momentum;
  bool centered, maximize;

  template <class C, class Visit>
  static void fields(C& c, Visit&& field) {
    field("lr", c.lr); field("alpha", c.alpha); field("eps", c.eps);
    field("weight_decay", c.weight_decay); field("momentum", c.momentum);
    field("centered", c.centered); field("maximize", c.maximize);
  }
};

template <class T>
struct RmspropStep {
  T neg_lr, alpha, one_minus_alpha, eps, weight_decay, momentum;
  LerpWeight<T> grad_avg_weight;  // 1 - alpha
  bool centered, has_momentum, maximize, has_weight_decay;
};

template <class T>
PYGD_HD RmspropStep<T> make_step(const RmspropConfig& c, int64_t /*step*/) {
  return {T(-c.lr), T(c.alpha), T(1.0 - c.alpha), T(c.eps), T(c.weight_decay), T(c.momentum),
          make_lerp_weight<T>(1.0 - c.alpha), c.centered, c.momentum > 0.0, c.maximize, c.weight_decay != 0.0};
}

struct AdagradConfig {
  double lr, lr_decay, weight_decay, eps;
  bool maximize;

  template <class C, class Visit>
  static void fields(C& c, Visit&& field) {
    field("lr", c.lr); field("lr_decay", c.lr_decay); field("weight_decay", c.weight_decay);
    field("eps", c.eps); field("maximize", c.maximize);
  }
};

template <class T>
struct AdagradStep {
  T neg_clr;  // -lr / (1 + (t - 1) * lr_decay)
  T weight_decay, eps;
  bool maximize, has_weight_decay;
};

template <class T>
PYGD_HD AdagradStep<T> make_step(const AdagradConfig& c, int64_t step) {
  const double clr = c.lr / (1.0 + double(step - 1) * c.lr_decay);
  return {T(-clr), T(c.weight_decay), T(c.eps), c.maximize, c.weight_decay != 0.0};
}

struct AdamaxConfig {
  double lr, beta1, beta2, eps, weight_decay;
  bool maximize;

  template <class C, class Visit>
  static void fields(C& c, Visit&& field) {
    field("lr", c.lr); field("beta1", c.beta1); field("beta2", c.beta2); field("eps", c.eps);
    field("weight_decay", c.weight_decay); field("maximize", c.maximize);
  }
};

template <class T>
struct AdamaxStep {
  LerpWeight<T> exp_avg_weight;  // 1 - beta1
  T beta2, eps, weight_decay;
  T neg_clr;  // -lr / (1 - beta1^t): torch's addcdiv value, rounded to T once
  bool maximize, has_weight_decay;
};

template <class T>
PYGD_HD AdamaxStep<T> make_step(const AdamaxConfig& c, int64_t step) {
  const double bc1 = 1.0 - std::pow(c.beta1, double(step));
  return {make_lerp_weight<T>(1.0 - c.beta1), T(c.beta2), T(c.eps), T(c.weight_decay),
          T(-(c.lr / bc1)), c.maximize, c.weight_decay != 0.0};
}

struct RadamConfig {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled, maximize;

  template <class C, class Visit>
  static void fields(C& c, Visit&& field) {
    field("lr", c.lr); field("beta1", c.beta1); field("beta2", c.beta2); field("eps", c.eps);
    field("weight_decay", c.weight_decay); field("decoupled", c.decoupled); field("maximize", c.maximize);
  }
};

template <class T>
struct RadamStep {
  LerpWeight<T> exp_avg_weight;  // 1 - beta1
  T beta2, one_minus_beta2;
  T bc1;       // 1 - beta1^t: exp_avg is divided by it, as torch does
  T lr, eps, weight_decay;
  T bc2_sqrt;  // sqrt(1 - beta2^t)
  T rect;      // the variance rectification term r_t (used only when rectified)
  T param_scale;  // 1 - lr * weight_decay (decoupled)
  bool rectified;  // rho_t > 5: the adaptive step is on
  bool maximize, coupled_decay, decoupled_decay;
};

template <class T>
PYGD_HD RadamStep<T> make_step(const RadamConfig& c, int64_t step) {
  // In double, in torch's (Python's) order of evaluation.
  const double t = double(step);
  const double bc1 = 1.0 - std::pow(c.beta1, t);
  const double bc2 = 1.0 - std::pow(c.beta2, t);
  const double rho_inf = 2.0 / (1.0 - c.beta2) - 1.0;
  const double rho_t = rho_inf - 2.0 * t * std::pow(c.beta2, t) / bc2;
  const bool rectified = rho_t > 5.0;
  const double rect = rectified ? std::pow((rho_t - 4.0) * (rho_t - 2.0) * rho_inf /
                                            ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t), 0.5)
                                : 0.0;
  const bool decay = c.weight_decay != 0.0;
  return {make_lerp_weight<T>(1.0 - c.beta1), T(c.beta2), T(1.0 - c.beta2), T(bc1), T(c.lr), T(c.eps),
          T(c.weight_decay), T(std::pow(bc2, 0.5)), T(rect), T(1.0 - c.lr * c.weight_decay), rectified,
          c.maximize, decay && !c.decoupled, decay && c.decoupled};
}

struct AdadeltaConfig {
  double lr, rho, eps, weight_decay;
  bool maximize;

  template <class C, class Visit>
  static void fields(C& c, Visit&& field) {
    field("lr", c.lr); field("rho", c.rho); field("eps", c.eps); field("weight_decay", c.weight_decay);
    field("maximize", c.maximize);
  }
};

template <class T>
struct AdadeltaStep {
  T neg_lr, rho, one_minus_rho, eps, weight_decay;
  bool maximize, has_weight_decay;
};

template <class T>
PYGD_HD AdadeltaStep<T> make_step(const AdadeltaConfig& c, int64_t /*step*/) {
  return {T(-c.lr), T(c.rho), T(1.0 - c.rho), T(c.eps), T(c.weight_decay), c.maximize, c.weight_decay != 0.0};
}

// Rprop's lr only sets each step size's initial value; the update never reads it.
struct RpropConfig {
  double etaminus, etaplus, step_size_min, step_size_max;
  bool maximize;

  template <class C, class Visit>
  static void fields(C& c, Visit&& field) {
    field("etaminus", c.etaminus); field("etaplus", c.etaplus); field("step_size_min", c.step_size_min);
    field("step_size_max", c.step_size_max); field("maximize", c.maximize);
  }
};

template <class T>
struct RpropStep {
  T etaminus, etaplus, step_size_min, step_size_max;
  bool maximize;
};

template <class T>
PYGD_HD RpropStep<T> make_step(const RpropConfig& c, int64_t /*step*/) {
  return {T(c.etaminus), T(c.etaplus), T(c.step_size_min), T(c.step_size_max), c.maximize};
}

// Lion's weight decay is decoupled (param *= 1 - lr * weight_decay), as in the paper and optax.
struct LionConfig {
  double lr, beta1, beta2, weight_decay;
  bool maximize;

  template <class C, class Visit>
  static void fields(C& c, Visit&& field) {
    field("lr", c.lr); field("beta1", c.beta1); field("beta2", c.beta2); field("weight_decay", c.weight_decay);
    field("maximize", c.maximize);
  }
};

template <class T>
struct LionStep {
  LerpWeight<T> update_weight;   // 1 - beta1: the interpolation whose sign is the update
  LerpWeight<T> exp_avg_weight;  // 1 - beta2: the momentum's moving average
  T lr, param_scale;             // param_scale = 1 - lr * weight_decay
  bool maximize, has_weight_decay;
};

template <class T>
PYGD_HD LionStep<T> make_step(const LionConfig& c, int64_t /*step*/) {
  return {make_lerp_weight<T>(1.0 - c.beta1), make_lerp_weight<T>(1.0 - c.beta2), T(c.lr),
          T(1.0 - c.lr * c.weight_decay), c.maximize, c.weight_decay != 0.0};
}

// NAdam's momentum coefficient mu_t = beta1 (1 - 0.5 * 0.96^(t * momentum_decay)). mu_product is
// state the caller keeps (torch's state["mu_product"], rounded to its dtype): mu_1 ... mu_t,
// through this step.
struct NadamConfig {
  double lr, beta1, beta2, eps, weight_decay, momentum_decay, mu_product;
  bool decoupled, maximize;

  template <class C, class Visit>
  static void fields(C& c, Visit&& field) {
    field("lr", c.lr); field("beta1", c.beta1); field("beta2", c.beta2); field("eps", c.eps);
    field("weight_decay", c.weight_decay); field("momentum_decay", c.momentum_decay);
    field("mu_product", c.mu_product); field("decoupled", c.decoupled); field("maximize", c.maximize);
  }
};

template <class T>
struct NadamStep {
  LerpWeight<T> exp_avg_weight;  // 1 - beta1
  T beta2, one_minus_beta2, bc2, eps, weight_decay;
  T grad_value;     // -lr (1 - mu_t) / (1 - mu_product)
  T exp_avg_value;  // -lr mu_{t+1} / (1 - mu_product mu_{t+1})
  T param_scale;    // 1 - lr * weight_decay (decoupled)
  bool maximize, coupled_decay, decoupled_decay;
};

template <class T>
PYGD_HD NadamStep<T> make_step(const NadamConfig& c, int64_t step) {
  // In double, in torch's (Python's) order of evaluation.
  const double t = double(step);
  const double bc2 = 1.0 - std::pow(c.beta2, t);
  const double mu = c.beta1 * (1.0 - 0.5 * std::pow(0.96, t * c.momentum_decay));
  const double mu_next = c.beta1 * (1.0 - 0.5 * std::pow(0.96, (t + 1.0) * c.momentum_decay));
  const double mu_product_next = c.mu_product * mu_next;
  const bool decay = c.weight_decay != 0.0;
  return {make_lerp_weight<T>(1.0 - c.beta1), T(c.beta2), T(1.0 - c.beta2), T(bc2), T(c.eps),
          T(c.weight_decay), T(-c.lr * (1.0 - mu) / (1.0 - c.mu_product)),
          T(-c.lr * mu_next / (1.0 - mu_product_next)), T(1.0 - c.lr * c.weight_decay), c.maximize,
          decay && !c.decoupled, decay && c.decoupled};
}

// ASGD's eta and mu are state the caller keeps (torch's state["eta"], state["mu"]): the values
// before this step's advance.
struct AsgdConfig {
  double lambd, eta, mu, weight_decay;
  bool maximize;

  template <class C, class Visit>
  static void fields(C& c, Visit&& field) {
    field("lambd", c.lambd); field("eta", c.eta); field("mu", c.mu); field("weight_decay", c.weight_decay);
    field("maximize", c.maximize);
  }
};

template <class T>
struct AsgdStep {
  T decay_scale;  // 1 - lambd * eta
  T neg_eta, mu, weight_decay;
  bool mu_is_one;  // torch copies the param into ax while mu == 1
  bool maximize, has_weight_decay;
};

template <class T>
PYGD_HD AsgdStep<T> make_step(const AsgdConfig& c, int64_t /*step*/) {
  return {T(1.0 - c.lambd * c.eta), T(-c.eta), T(c.mu), T(c.weight_decay), c.mu == 1.0, c.maximize,
          c.weight_decay != 0.0};
}

// LAMB (You et al. 2019) as optax.lamb: Adam's bias-corrected direction (eps outside the root, as
// optax's scale_by_adam with eps_root = 0), plus weight_decay * param, scaled per tensor by the
// trust ratio (trust_ratio.h). trust_ratio = false: the ratio is 1 (optax's masked-out leaves).
struct LambConfig {
  double lr, beta1, beta2, eps, weight_decay;
  bool trust_ratio, maximize;

  template <class C, class Visit>
  static void fields(C& c, Visit&& field) {
    field("lr", c.lr); field("beta1", c.beta1); field("beta2", c.beta2); field("eps", c.eps);
    field("weight_decay", c.weight_decay); field("trust_ratio", c.trust_ratio); field("maximize", c.maximize);
  }
};

template <class T>
struct LambStep {
  LerpWeight<T> exp_avg_weight;  // 1 - beta1
  T beta2, one_minus_beta2;
  T inv_bc1, inv_bc2;  // 1 / (1 - beta^t): the bias corrections, multiplied by (made in double;
                       // a division each would cost more than the update's memory traffic)
  T eps, weight_decay;
  T neg_lr;        // the update's scale without a trust ratio
  double lr;       // the per-tensor scale -lr * ratio is made in double, then rounded once
  bool maximize, has_weight_decay, trust_ratio;
};

template <class T>
PYGD_HD LambStep<T> make_step(const LambConfig& c, int64_t step) {
  const double t = double(step);
  return {make_lerp_weight<T>(1.0 - c.beta1), T(c.beta2), T(1.0 - c.beta2),
          T(1.0 / (1.0 - std::pow(c.beta1, t))), T(1.0 / (1.0 - std::pow(c.beta2, t))), T(c.eps), T(c.weight_decay),
          T(-c.lr), c.lr, c.maximize, c.weight_decay != 0.0, c.trust_ratio};
}

// LARS (You et al. 2017) as optax.lars: u = grad + weight_decay * param, scaled per tensor by
// trust_coefficient * |param| / (|u| + eps) (trust_ratio.h), by -lr, then optax's trace:
// buf = momentum * buf + u', the update buf (or u' + momentum * buf with nesterov).
struct LarsConfig {
  double lr, momentum, weight_decay, trust_coefficient, eps;
  bool nesterov, trust_ratio, maximize;

  template <class C, class Visit>
  static void fields(C& c, Visit&& field) {
    field("lr", c.lr); field("momentum", c.momentum); field("weight_decay", c.weight_decay);
    field("trust_coefficient", c.trust_coefficient); field("eps", c.eps); field("nesterov", c.nesterov);
    field("trust_ratio", c.trust_ratio); field("maximize", c.maximize);
  }
};

template <class T>
struct LarsStep {
  T momentum, weight_decay;
  T neg_lr;                           // the update's scale without a trust ratio
  double lr, trust_coefficient, eps;  // the per-tensor scale, made in double
  bool has_momentum, nesterov, maximize, has_weight_decay, trust_ratio;
};

template <class T>
PYGD_HD LarsStep<T> make_step(const LarsConfig& c, int64_t /*step*/) {
  return {T(c.momentum), T(c.weight_decay), T(-c.lr), c.lr, c.trust_coefficient, c.eps,
          c.momentum != 0.0, c.nesterov, c.maximize, c.weight_decay != 0.0, c.trust_ratio};
}

// The bandwidth probe: the memory traffic of an update with trivial arithmetic.
struct ProbeConfig {
  double scale;

  template <class C, class Visit>
  static void fields(C& c, Visit&& field) {
    field("scale", c.scale);
  }
};

template <class T>
struct ProbeStep {
  T scale;
};

template <class T>
PYGD_HD ProbeStep<T> make_step(const ProbeConfig& c, int64_t /*step*/) {
  return {T(c.scale)};
}

// Adafactor as torch.optim.Adafactor (torch 2.13): the second moment factored into row and column
// means over the last two dims (a full one for a param of dim <= 1), relative step sizes and update
// clipping (adafactor.h). eps1 < 0 stands for torch's eps1=None: the element type's machine epsilon
// (torch's constructor requires eps1 >= 0, so no real value is taken for it).
struct AdafactorConfig {
  double lr, beta2_decay, eps1, eps2, d, weight_decay;
  bool maximize;

  template <class C, class Visit>
  static void fields(C& c, Visit&& field) {
    field("lr", c.lr); field("beta2_decay", c.beta2_decay); field("eps1", c.eps1); field("eps2", c.eps2);
    field("d", c.d); field("weight_decay", c.weight_decay); field("maximize", c.maximize);
  }
};

template <class T>
struct AdafactorStep {
  LerpWeight<T> var_weight;  // t ** beta2_decay (torch's one_minus_beta2_t), the factors' lerp weight
  T eps1;                    // the row-factor mean's floor (torch: clamp_(min=eps1))
  T eps1_squared;            // the variance estimate's floor, eps1 * eps1 made in double (as torch)
  T decay;                   // 1 - lr * weight_decay (decoupled, before the update)
  double rho, eps2, d;       // the per-tensor scale's scalars, used in double
  bool maximize, has_weight_decay;
};

template <class T>
PYGD_HD AdafactorStep<T> make_step(const AdafactorConfig& c, int64_t step) {
  const double t = double(step);
  // torch: step_float ** beta2_decay, min(lr, 1 / step_float ** 0.5), in Python floats.
  const double rho = std::fmin(c.lr, 1.0 / std::pow(t, 0.5));
  const double eps1 = c.eps1 < 0.0 ? double(std::numeric_limits<T>::epsilon()) : c.eps1;
  return {make_lerp_weight<T>(std::pow(t, c.beta2_decay)), T(eps1), T(eps1 * eps1), T(1.0 - c.lr * c.weight_decay),
          rho, c.eps2, c.d, c.maximize, c.weight_decay != 0.0};
}

}  // namespace pygd
