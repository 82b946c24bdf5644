# Finds every third-party dependency and wraps the ones without CMake configs in imported targets.
# All of them are Debian 12 packages; README.md lists the apt line.

find_package(MPI REQUIRED COMPONENTS C)
find_package(Eigen3 3.4 REQUIRED NO_MODULE)

# Parallel HDF5 only: shards, checkpoints and results are written collectively through MPI-IO.
set(HDF5_PREFER_PARALLEL TRUE)
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR
    "relfm needs the parallel (MPI) build of HDF5, but CMake found a serial one "
    "(${HDF5_C_INCLUDE_DIRS}). Install libhdf5-openmpi-dev, or point CMake at the MPI wrapper with "
    "-DHDF5_C_COMPILER_EXECUTABLE=/usr/bin/h5pcc.openmpi")
endif()
add_library(relfm_hdf5 INTERFACE)
target_include_directories(relfm_hdf5 SYSTEM INTERFACE ${HDF5_C_INCLUDE_DIRS})
target_compile_definitions(relfm_hdf5 INTERFACE ${HDF5_C_DEFINITIONS})
target_link_libraries(relfm_hdf5 INTERFACE ${HDF5_C_LIBRARIES} MPI::MPI_C)

# METIS ships no CMake config on Debian.
find_path(METIS_INCLUDE_DIR metis.h REQUIRED)
find_library(METIS_LIBRARY NAMES metis REQUIRED)
add_library(METIS::METIS UNKNOWN IMPORTED)
set_target_properties(METIS::METIS PROPERTIES
  IMPORTED_LOCATION "${METIS_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${METIS_INCLUDE_DIR}")

# RDKit ships neither a CMake config nor a pkg-config file on Debian; its headers include Boost.
find_path(RDKIT_INCLUDE_DIR GraphMol/ROMol.h PATH_SUFFIXES rdkit REQUIRED)
find_package(Boost REQUIRED)
add_library(RDKit::RDKit INTERFACE IMPORTED)
set(_relfm_rdkit_parts Fingerprints ChemTransforms SubstructMatch SmilesParse GraphMol RDGeometryLib RDGeneral DataStructs)
foreach(part IN LISTS _relfm_rdkit_parts)
  find_library(RDKIT_${part}_LIBRARY NAMES RDKit${part} REQUIRED)
  target_link_libraries(RDKit::RDKit INTERFACE ${RDKIT_${part}_LIBRARY})
endforeach()
target_include_directories(RDKit::RDKit SYSTEM INTERFACE ${RDKIT_INCLUDE_DIR})
target_link_libraries(RDKit::RDKit INTERFACE Boost::headers)

if(RELFM_OPENBLAS)
  # Debian installs each OpenBLAS flavour in its own directory; take the single-threaded one (one thread per
  # MPI rank). It is not linked: src/tensor/gemm_openblas.cpp loads it with dlopen, because its kernel
  # (OPENBLAS_CORETYPE) can only be chosen when it loads, and the start-up check must choose it.
  find_library(OPENBLAS_SERIAL_LIBRARY NAMES openblas
    PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-serial NO_DEFAULT_PATH)
  if(NOT OPENBLAS_SERIAL_LIBRARY)
    message(FATAL_ERROR "RELFM_OPENBLAS=ON needs the serial OpenBLAS (apt-get install libopenblas-serial-dev), "
                        "or configure with -DRELFM_OPENBLAS=OFF for Eigen's kernels only")
  endif()
  # The runtime name (libopenblas.so.0) when it sits beside the development link, as in Debian's packages.
  get_filename_component(_relfm_openblas_dir "${OPENBLAS_SERIAL_LIBRARY}" DIRECTORY)
  if(EXISTS "${_relfm_openblas_dir}/libopenblas.so.0")
    set(RELFM_OPENBLAS_RUNTIME "${_relfm_openblas_dir}/libopenblas.so.0")
  else()
    set(RELFM_OPENBLAS_RUNTIME "${OPENBLAS_SERIAL_LIBRARY}")
  endif()
endif()

find_package(ZLIB REQUIRED)       # gzip-compressed CSVs
find_package(OpenSSL REQUIRED)    # SHA-256 checksums of source data
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)     # levelled logging with a rank tag (src/core/log.hpp)
find_package(CLI11 REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(nlohmann_json 3 REQUIRED)  # JSON lines of the work-item journals; the LLM client's messages
find_package(CURL REQUIRED)             # the LLM client's HTTP (src/llm, curl multi)

# Random123 is header-only and has no CMake config.
find_path(RANDOM123_INCLUDE_DIR Random123/philox.h REQUIRED)
add_library(Random123::Random123 INTERFACE IMPORTED)
target_include_directories(Random123::Random123 SYSTEM INTERFACE ${RANDOM123_INCLUDE_DIR})

if(RELFM_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
