# Finds every third-party dependency once, so folder CMakeLists only link targets.
find_package(SQLite3 REQUIRED)
find_package(SQLiteCpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(Eigen3 3.3 REQUIRED NO_MODULE)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
# SentencePiece (Debian libsentencepiece-dev): `data prepare`'s trained and loaded tokenizers.
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
find_library(LBFGSB_LIBRARY NAMES lbfgsb REQUIRED)
add_library(lbfgsb::lbfgsb UNKNOWN IMPORTED)
set_target_properties(lbfgsb::lbfgsb PROPERTIES IMPORTED_LOCATION ${LBFGSB_LIBRARY})
# libcsv (Debian libcsv-dev): the planner's CSV/TSV reader; no CMake or pkg-config file.
find_library(CSV_LIBRARY NAMES csv REQUIRED)
find_path(CSV_INCLUDE_DIR csv.h REQUIRED)
add_library(csv::csv UNKNOWN IMPORTED)
set_target_properties(csv::csv PROPERTIES IMPORTED_LOCATION ${CSV_LIBRARY}
                      INTERFACE_INCLUDE_DIRECTORIES ${CSV_INCLUDE_DIR})
if(SCALELAB_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(SCALELAB_BUILD_BENCH)
  find_package(benchmark QUIET)
endif()
find_package(Threads REQUIRED)

# CUDA only when nvcc exists: CI compiles the kernels, the device runs them.
set(SCALELAB_HAVE_CUDA OFF)
if(SCALELAB_WITH_CUDA)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90a)  # Hopper: H100 / H200
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    set(SCALELAB_HAVE_CUDA ON)
  endif()
endif()

set(SCALELAB_HAVE_TORCH OFF)
if(SCALELAB_WITH_TORCH)
  # The pinned wheel lives outside the checkout (scripts/setup.sh); its CMake
  # config is found through CMAKE_PREFIX_PATH, which scripts/build.sh sets.
  # Torch's CMake otherwise adds -gencode for every architecture it knows.
  if(NOT DEFINED TORCH_CUDA_ARCH_LIST AND NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
    set(TORCH_CUDA_ARCH_LIST "9.0a")
  endif()
  find_package(Torch QUIET)
  if(Torch_FOUND)
    set(SCALELAB_HAVE_TORCH ON)
    message(STATUS "scalelab: LibTorch ${Torch_VERSION} at ${TORCH_INSTALL_PREFIX}")
  else()
    # A warning here once let CI pass with half the suites missing (issue 19):
    # a build without the trainer must be asked for.
    message(FATAL_ERROR "scalelab: LibTorch not found (run scripts/setup.sh, and build with "
            "scripts/build.sh, which sets CMAKE_PREFIX_PATH); configure with "
            "-DSCALELAB_WITH_TORCH=OFF for a planner/analysis-only build")
  endif()
endif()
message(STATUS "scalelab: torch=${SCALELAB_HAVE_TORCH} cuda=${SCALELAB_HAVE_CUDA}")

# Torch targets share one precompiled header: <torch/torch.h> costs ~15 s per
# translation unit otherwise.
# LibTorch ships fmt 12 headers, which shadow Debian's fmt 9 in torch targets;
# using them header-only keeps each translation unit consistent (and spdlog,
# built against fmt 9, out of torch targets).
function(scalelab_torch_target tgt)
  target_link_libraries(${tgt} PUBLIC ${TORCH_LIBRARIES})
  target_compile_definitions(${tgt} PRIVATE FMT_HEADER_ONLY=1)
  # The PyPI libtorch.so exports its own copy of std::filesystem (some of it
  # broken: remove_all jumps to null). Naming libstdc++ before LibTorch in the
  # executable's DT_NEEDED makes the dynamic linker resolve those symbols to the
  # system library. Not every CMake keeps that order (the GPU machine's did not),
  # so torch-linked code also never calls remove_all (tests/common/temp_dir.h).
  target_link_options(${tgt} PUBLIC "LINKER:--push-state,--no-as-needed" "-lstdc++"
                      "LINKER:--pop-state")
  target_compile_options(${tgt} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wno-unused-parameter>)
  if(NOT TARGET scalelab_torch_pch)
    file(WRITE ${CMAKE_BINARY_DIR}/pch_dummy.cpp "")
    add_library(scalelab_torch_pch STATIC ${CMAKE_BINARY_DIR}/pch_dummy.cpp)
    target_link_libraries(scalelab_torch_pch PUBLIC ${TORCH_LIBRARIES})
    target_compile_definitions(scalelab_torch_pch PRIVATE FMT_HEADER_ONLY=1)
    target_precompile_headers(scalelab_torch_pch PRIVATE <torch/torch.h>)
  endif()
  target_precompile_headers(${tgt} REUSE_FROM scalelab_torch_pch)
endfunction()
