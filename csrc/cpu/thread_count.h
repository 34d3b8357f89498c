// How many threads a call may use, and why: the one thread policy of every native CPU call.
//
// In order: a count set through pygd (pygd.set_num_threads, or threadpoolctl's limit on pygd's
// pool); else the OpenMP limit in force on the calling thread when it is not OpenMP's default
// (omp_set_num_threads, threadpoolctl's limit on OpenMP, torch.set_num_threads, all of which set
// it), then OMP_NUM_THREADS; else the cores this process may use: its CPU affinity, capped by its
// cgroup's CPU quota. pygd starts no OpenMP threads; it only reads OpenMP's limit.
#pragma once
#include <string>

namespace pygd::cpu {

enum class ThreadSource {
  kSetNumThreads,   // pygd.set_num_threads
  kThreadpoolctl,   // threadpoolctl's limit on pygd's pool
  kOpenMP,          // the calling thread's OpenMP limit, changed from OpenMP's default
  kOmpNumThreads,   // OMP_NUM_THREADS
  kCgroupQuota,     // the cgroup's CPU quota, below the CPU affinity
  kAffinity,        // the CPUs this process may run on
};
const char* source_name(ThreadSource source);
// False for a name that is not one of the two a user can set a count through.
bool parse_settable_source(const char* name, ThreadSource* out);

struct ThreadCount {
  int threads;
  ThreadSource source;
};

// What a call made now on this thread uses.
ThreadCount current_threads();

// The count set through pygd, from `source` (kSetNumThreads or kThreadpoolctl); n <= 0 clears it,
// so that the environment decides again. n is clamped to kMaxThreads.
void set_thread_count(int n, ThreadSource source);
// The count set through pygd (0 when none) and its source.
ThreadCount set_count();

// Whether this build reads OpenMP's limit (it was built with OpenMP).
bool follows_openmp();

// The cores this process may use now: CPU affinity capped by the cgroup quota (at least 1).
ThreadCount usable_cores();

// The tightest CPU quota, in whole CPUs rounded up, that the cgroups listed in `proc_self_cgroup`
// (the format of /proc/self/cgroup) and their ancestors have under `cgroup_root` (where cgroupfs
// is mounted), for cgroup v2 (cpu.max) and v1 (cpu.cfs_quota_us / cpu.cfs_period_us); 0 when none.
// Read once per process, from the real files; the arguments let tests use a tree of their own.
int cgroup_quota_cpus(const std::string& proc_self_cgroup, const std::string& cgroup_root);

}  // namespace pygd::cpu
