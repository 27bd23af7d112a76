#!/usr/bin/env bash
# Compiles and links the trainer with `--features cuda` (nothing runs: a CI
# machine has no GPU) on Debian 12 (bookworm, amd64) with network access to
# deb.debian.org and crates.io only. Run from anywhere in the repository, as
# root or as a user with sudo (for the bookworm packages of step 1).
#
#   scripts/cuda-build-check.sh           compile and link (`cargo build`)
#   scripts/cuda-build-check.sh --check   type-check only (`cargo check`: every
#                                         crate of the cuda path compiled to
#                                         metadata, build scripts and the C++
#                                         shims of cubecl-llvm built; no code
#                                         generation, no link) — what CI runs
#
# Why it needs preparing: Burn's CUDA backend compiles kernels with LLVM
# (cubecl-llvm), whose build dependency tracel-llvm-bundler downloads an LLVM
# bundle from GitHub into `$XDG_DATA_HOME/tracel/tracel-llvm-<version>/` unless
# that directory already holds the file `.tracel-llvm-installed`; after that it
# only asks the directory's `bin/llvm-config` where the headers and static
# libraries are. Bookworm has no recent enough LLVM, so this script builds a
# stand-in from Debian 13 (trixie) packages, unpacked into a private directory
# (nothing is installed system-wide from trixie):
#   - llvm-22, llvm-22-dev, libpolly-22-dev: llvm-config, headers, static libs;
#   - libc6, libc6-dev: trixie's LLVM objects call glibc 2.38 symbols
#     (__isoc23_strtol, ...), so the final link of the binary is pointed at
#     trixie's glibc; the binary would need a trixie (or newer) system to run,
#     which does not matter for a compile check.
# The packages are fetched by apt with a private configuration and state (the
# trixie index is checked against Debian's archive keys, the .debs against the
# index's SHA256), pinned to the versions below; if trixie has moved on, the
# current trixie version of the same package is taken, with a warning.
#
# Environment:
#   MATPAC_CUDA_LLVM_DIR  where the stand-in lives
#                         (default: $XDG_DATA_HOME/matpac-edge/cuda-llvm,
#                         i.e. ~/.local/share/matpac-edge/cuda-llvm)
#   CARGO_TARGET_DIR      the build goes to $CARGO_TARGET_DIR/cuda-check
#                         (default: target/cuda-check), apart from the other
#                         builds, whose cubecl-llvm must not see the stand-in.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=build
case "${1:-}" in
    "") ;;
    --check) mode=check ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

suite=trixie
llvm_major=22
llvm_version="1:22.1.8-1~deb13u5"
glibc_version="2.41-12+deb13u5"
pins=(
    "llvm-$llvm_major=$llvm_version"
    "llvm-$llvm_major-dev=$llvm_version"
    "libpolly-$llvm_major-dev=$llvm_version"
    "libc6=$glibc_version"
    "libc6-dev=$glibc_version"
)
# bookworm packages: a C++ compiler for cubecl-llvm's shims, and what trixie's
# llvm-config needs to run and the static LLVM libraries need to link
system_packages=(g++ libz3-dev zlib1g-dev libzstd-dev libxml2-dev)

step="starting"
trap 'echo "cuda build: failed while $step" >&2' ERR
die() { echo "cuda build: $*" >&2; trap - ERR; exit 1; }
# the first value of a "Field: value" line in apt-cache's output
field() { awk -v f="$1:" '$1 == f && v == "" { v = $2 } END { print v }'; }

[ "$(uname -s)" = Linux ] && command -v dpkg >/dev/null || die "needs a Debian system (dpkg not found)"
[ "$(dpkg --print-architecture)" = amd64 ] || die "only amd64 is prepared here (this is $(dpkg --print-architecture))"

cache="${MATPAC_CUDA_LLVM_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/matpac-edge/cuda-llvm}"
bundler_version=$(awk '$0 == "name = \"tracel-llvm-bundler\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[ -n "$bundler_version" ] || die "tracel-llvm-bundler is not in Cargo.lock; see docs/gpu.md"
standin="$cache/xdg/tracel/tracel-llvm-$bundler_version"
llvm_prefix="$cache/root/usr/lib/llvm-$llvm_major"

# 1. bookworm packages
step="installing ${system_packages[*]}"
missing=()
for p in "${system_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo_=""; [ "$(id -u)" -ne 0 ] && sudo_="sudo"
    echo "== cuda build: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $sudo_ apt-get update -qq
    $sudo_ apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. trixie packages, unpacked into $cache/root (skipped when the stamp matches)
stamp="pins: ${pins[*]}"
if [ "$(cat "$cache/ready" 2>/dev/null)" != "$stamp" ] \
    || ! "$standin/bin/llvm-config" --link-static --libs >/dev/null 2>&1; then
    echo "== cuda build: preparing the LLVM stand-in in $cache"
    step="fetching the $suite package index into $cache/apt"
    rm -rf "$cache/apt" "$cache/root" "$cache/xdg" "$cache/glibc-link" "$cache/ready"
    apt_dir="$cache/apt"
    mkdir -p "$apt_dir"/{lists/partial,archives/partial,sources.list.d,preferences.d,debs}
    echo "deb [arch=amd64] http://deb.debian.org/debian $suite main" > "$apt_dir/sources.list"
    : > "$apt_dir/status"
    apt_opts=(
        -o "Dir::Etc::sourcelist=$apt_dir/sources.list"
        -o "Dir::Etc::sourceparts=$apt_dir/sources.list.d"
        -o "Dir::Etc::preferences=$apt_dir/preferences"
        -o "Dir::Etc::preferencesparts=$apt_dir/preferences.d"
        -o "Dir::State::Lists=$apt_dir/lists"
        -o "Dir::State::status=$apt_dir/status"
        -o "Dir::Cache=$apt_dir/cache"
        -o "Dir::Cache::archives=$apt_dir/archives"
        -o "APT::Architecture=amd64" -o "APT::Architectures::=amd64"
        -o "Acquire::Languages=none"
        -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
        -o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false"
        -o "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false"
        -o "Acquire::IndexTargets::deb::DEP-11-icons-hidpi::DefaultEnabled=false"
        -o "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false"
    )
    # as root, apt's download sandbox user could not write to a private directory
    [ "$(id -u)" -eq 0 ] && apt_opts+=(-o "APT::Sandbox::User=root")
    apt-get "${apt_opts[@]}" -qq update

    for pin in "${pins[@]}"; do
        pkg=${pin%%=*}
        step="downloading $pin from $suite"
        # (`apt-cache show pkg=version` prints nothing, and exits 0, when the
        # version is gone)
        if [ -n "$(apt-cache "${apt_opts[@]}" show "$pin" 2>/dev/null | field Version || true)" ]; then
            want=$pin
        else
            current=$(apt-cache "${apt_opts[@]}" policy "$pkg" 2>/dev/null | field Candidate || true)
            [ -n "$current" ] && [ "$current" != "(none)" ] || die "$pkg is not in $suite any more; update the pins in $0"
            echo "warning: $pin is no longer in $suite; taking $pkg=$current (update the pins in $0)" >&2
            want="$pkg=$current"
        fi
        (cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" -qq download "$want" >/dev/null)
        deb=$(ls "$apt_dir/debs/${pkg}"_*_amd64.deb)
        step="checking the SHA256 of $deb"
        sha=$(apt-cache "${apt_opts[@]}" show "$want" | field SHA256)
        [ -n "$sha" ] && [ "$(sha256sum "$deb" | cut -d' ' -f1)" = "$sha" ] \
            || die "$deb does not match the SHA256 of the $suite index"
        echo "   ${want} sha256 $sha"
        step="unpacking $deb"
        dpkg-deb -x "$deb" "$cache/root"
        rm -f "$deb"
    done
    # only llvm-config of llvm-22's tools is used
    find "$llvm_prefix/bin" -mindepth 1 ! -name llvm-config -delete

    # linker scripts naming trixie's libc and libm (the final link's -L)
    step="writing the glibc link directory"
    glibc="$cache/root/usr/lib/x86_64-linux-gnu"
    mkdir -p "$cache/glibc-link"
    printf 'OUTPUT_FORMAT(elf64-x86-64)\nGROUP ( %s/libc.so.6 %s/libc_nonshared.a AS_NEEDED ( %s/ld-linux-x86-64.so.2 ) )\n' \
        "$glibc" "$glibc" "$glibc" > "$cache/glibc-link/libc.so"
    printf 'OUTPUT_FORMAT(elf64-x86-64)\nGROUP ( %s/libm.so.6 AS_NEEDED ( %s/libmvec.so.1 ) )\n' \
        "$glibc" "$glibc" > "$cache/glibc-link/libm.so"

    # the bundle's install directory: llvm-config (trixie's, with the full path
    # of libz3.so in --system-libs rewritten to -lz3, which is what the bundler
    # can turn into a link flag) and the sentinel that stops the download
    step="writing the stand-in $standin"
    mkdir -p "$standin/bin"
    cat > "$standin/bin/llvm-config" <<EOF
#!/usr/bin/env bash
set -o pipefail
"$llvm_prefix/bin/llvm-config" "\$@" | sed -E 's#(^| )/[^ ]*/libz3\.so( |\$)#\1-lz3\2#g'
EOF
    chmod +x "$standin/bin/llvm-config"
    touch "$standin/.tracel-llvm-installed"
    rm -rf "$apt_dir"
    echo "$stamp" > "$cache/ready"
fi

step="running the stand-in's llvm-config"
"$standin/bin/llvm-config" --link-static --libs >/dev/null \
    || die "$standin/bin/llvm-config does not run (see its error above)"
echo "== cuda build: LLVM stand-in $("$standin/bin/llvm-config" --version) (Debian $suite) for tracel-llvm $bundler_version"

target_dir="${CARGO_TARGET_DIR:-target}/cuda-check"
if [ "$mode" = check ]; then
    step="cargo check -p matpac-trainer --features cuda"
    echo "== cuda build: cargo check -p matpac-trainer --features cuda --all-targets (into $target_dir)"
    XDG_DATA_HOME="$cache/xdg" CARGO_TARGET_DIR="$target_dir" \
        cargo check -p matpac-trainer --features cuda --all-targets
    trap - ERR
    echo "cuda build: type-checked (matpac-trainer with --features cuda, all targets; not linked)"
    exit 0
fi

# 3. the build: `cargo build -p matpac-trainer --features cuda`, as `cargo rustc`
# so that the extra link directory applies to the final binary only (build
# scripts and proc macros are linked against the running system's glibc)
step="cargo build -p matpac-trainer --features cuda"
echo "== cuda build: cargo build -p matpac-trainer --features cuda (into $target_dir)"
XDG_DATA_HOME="$cache/xdg" CARGO_TARGET_DIR="$target_dir" \
    cargo rustc -p matpac-trainer --bin matpac --features cuda -- -L "native=$cache/glibc-link"
[ -x "$target_dir/debug/matpac" ] || die "cargo finished but $target_dir/debug/matpac is missing"
trap - ERR
echo "cuda build: compiled (matpac with --features cuda, $target_dir/debug/matpac; not run)"
