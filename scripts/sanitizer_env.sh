# Sourced by scripts/test.sh --sanitize and scripts/fuzz.sh: run-time options of the sanitizer build.
# Any report fails the test (or is a fuzzer finding). LeakSanitizer stays on, with one
# suppression for a leak inside LibTorch (tests/fuzz/lsan.supp).
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/fuzz/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
