# How pygd's kernels are compiled.
include(CheckCXXCompilerFlag)

# pygd_kernel_flags(<target>): the floating-point contract of every kernel unit.
# -fno-math-errno lets sqrt become one (vector) instruction: with errno semantics gcc keeps a scalar
# libm fallback per element, which alone makes Adam 2.4x slower. No -ffast-math: the rules of IEEE
# arithmetic (NaN, inf, exact rounding) are part of the numerics pygd promises. -ffp-contract=off so
# that only the multiply-adds the math headers spell as fmadd are fused.
function(pygd_kernel_flags target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -O3 -fno-math-errno -ffp-contract=off)
  endif()
endfunction()

# pygd_isa_unit(<target> <source> DEFINE <macro> FLAGS <flag>... [TUNING <flag>...])
# Adds <source> to <target>, compiled with FLAGS (and TUNING, where the compiler accepts them),
# and defines <macro> on the whole target, when the compiler accepts FLAGS for this target;
# otherwise the unit is left out and the dispatcher never offers its level.
function(pygd_isa_unit target source)
  cmake_parse_arguments(PARSE_ARGV 2 UNIT "" "DEFINE" "FLAGS;TUNING")
  string(MAKE_C_IDENTIFIER "PYGD_CXX_ACCEPTS_${UNIT_DEFINE}" accepts)
  string(REPLACE ";" " " flags "${UNIT_FLAGS}")
  check_cxx_compiler_flag("${flags}" ${accepts})
  if(NOT ${accepts})
    message(STATUS "pygd: ${source} left out (the compiler does not take ${flags})")
    return()
  endif()
  set(unit_flags ${UNIT_FLAGS})
  if(UNIT_TUNING)
    string(REPLACE ";" " " tuning "${UNIT_FLAGS};${UNIT_TUNING}")
    check_cxx_compiler_flag("${tuning}" ${accepts}_TUNING)
    if(${accepts}_TUNING)
      list(APPEND unit_flags ${UNIT_TUNING})
    endif()
  endif()
  target_sources(${target} PRIVATE ${source})
  set_source_files_properties(${source} TARGET_DIRECTORY ${target} PROPERTIES COMPILE_OPTIONS "${unit_flags}")
  target_compile_definitions(${target} PUBLIC ${UNIT_DEFINE}=1)
endfunction()
