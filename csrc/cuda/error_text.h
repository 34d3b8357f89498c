// A CUDA error as the Python exception will word it: the error's name, then its description.
#pragma once
#include <cuda_runtime.h>

#include <string>

namespace pygd::cuda {

inline std::string error_text(cudaError_t error) {
  return std::string(cudaGetErrorName(error)) + ": " + cudaGetErrorString(error);
}

}  // namespace pygd::cuda
