# LibTorch's matrix products run on the system BLAS. Debian's reference BLAS is ~60x slower than
# OpenBLAS here, so warn at configure time when the BLAS the dynamic loader will resolve is the
# reference one.
set(_lvm_blas_link "/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/libblas.so.3")
if(EXISTS "${_lvm_blas_link}")
  file(REAL_PATH "${_lvm_blas_link}" _lvm_blas_real)
  message(STATUS "lvm: libblas.so.3 resolves to ${_lvm_blas_real}")
  if(_lvm_blas_real MATCHES "/blas/libblas")
    message(WARNING
      "lvm: LibTorch will run on the reference BLAS (${_lvm_blas_real}), about 60x slower than "
      "OpenBLAS. Install libopenblas0-pthread (scripts/install_deps.sh does) or select it with "
      "'update-alternatives --config libblas.so.3-${CMAKE_LIBRARY_ARCHITECTURE}'.")
  endif()
endif()
