#pragma once
// The fuzz targets: each takes arbitrary bytes, hands them to one reader of untrusted input, and
// checks what the reader promises. A reader may accept the input or reject it with its documented
// error naming the input; anything else (another exception, a broken invariant, a crash, a
// sanitizer report) is a finding and aborts.
//
// The same functions run in two ways: as libFuzzer targets (tests/fuzz/*_fuzz.cpp built with
// LVM_FUZZ_ENTRY, see scripts/fuzz.sh) and, in the normal test suite, over every saved input in
// tests/fuzz/corpus/<target>/ and tests/fuzz/regressions/<target>/ (fuzz_corpus_test.cpp).

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace lvm::fuzz {

enum class Outcome { kAccepted, kRejected };

/// IDX reader (lvm/data/idx.h): the bytes as a raw file, and gzip-compressed.
Outcome idx_input(const uint8_t* data, size_t size);
/// .npy reader (lvm/data/npy.h): the bytes as a file.
Outcome npy_input(const uint8_t* data, size_t size);
/// Config loader (lvm/config/config.h): the bytes as YAML text; lines "#--set KEY=VALUE" (YAML
/// comments) are also applied as overrides.
Outcome config_input(const uint8_t* data, size_t size);
/// Checkpoint loader (lvm/train/checkpoint.h): the bytes as a checkpoint file, read with
/// read_checkpoint_state and loaded into a small VAE and its Adam optimiser.
Outcome checkpoint_input(const uint8_t* data, size_t size);

/// Reports a finding and aborts (libFuzzer saves the input that caused it).
[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

/// A scratch file name private to this process (fuzzers and tests may run side by side).
inline std::string scratch_path(const std::string& name) {
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp && *tmp ? tmp : "/tmp") + "/lvm_fuzz_" + std::to_string(::getpid()) + "_" + name;
}

inline void write_bytes(const std::string& path, const void* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) finding("cannot write scratch file " + path);
}

/// Removes a scratch file when it goes out of scope.
struct ScratchFile {
  explicit ScratchFile(std::string p) : path(std::move(p)) {}
  ~ScratchFile() { std::remove(path.c_str()); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  std::string path;
};

/// Checks that an error message starts with the name of the input it is about.
inline void expect_names(const std::string& message, const std::string& name, const char* reader) {
  if (message.rfind(name, 0) != 0)
    finding(std::string(reader) + " error does not name " + name + ": " + message);
}

}  // namespace lvm::fuzz

// libFuzzer's entry point, only in the fuzzer executables (one target each).
#ifdef LVM_FUZZ_ENTRY
#define LVM_FUZZ_TARGET(function)                                           \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { \
    lvm::fuzz::function(data, size);                                        \
    return 0;                                                               \
  }
#else
#define LVM_FUZZ_TARGET(function)
#endif
