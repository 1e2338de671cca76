#include <gtest/gtest.h>

#include "lvm/runtime/runtime.h"

int main(int argc, char** argv) {
  // Same BLAS set-up as the app (core type, thread split), so tests exercise what users run.
  lvm::runtime::ensure_blas_environment(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
