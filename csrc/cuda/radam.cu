// launch<Radam>: the Radam kernels for every element type (a unit of their own, compiled in parallel).
#include "launch.cuh"

namespace pygd::cuda {
template std::string launch<Radam>(const RadamConfig&, const Call&);
}  // namespace pygd::cuda
