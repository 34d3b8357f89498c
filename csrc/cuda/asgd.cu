// launch<Asgd>: the Asgd kernels for every element type (a unit of their own, compiled in parallel).
#include "launch.cuh"

namespace pygd::cuda {
template std::string launch<Asgd>(const AsgdConfig&, const Call&);
}  // namespace pygd::cuda
