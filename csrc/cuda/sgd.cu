// launch<Sgd>: the Sgd kernels for every element type (a unit of their own, compiled in parallel).
#include "launch.cuh"

namespace pygd::cuda {
template std::string launch<Sgd>(const SgdConfig&, const Call&);
}  // namespace pygd::cuda
