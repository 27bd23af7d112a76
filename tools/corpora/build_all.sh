#!/usr/bin/env bash
# Build every Debian-package corpus and the combined pretraining pool.
#   tools/corpora/build_all.sh [OUT]         (default OUT: ~/matpac-data; never inside the repo)
# Needs: apt-get (with `apt-get update` done), dpkg-deb, fluidsynth, python3 with numpy,
# soundfile and soxr (pip install numpy soundfile soxr). About 1.9 GB of .deb downloads and
# 4 GB of unpacked packages go to OUT/_cache (delete it afterwards if you like).
# Extra arguments after OUT are passed to every builder (e.g. --cache DIR).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$HOME/matpac-data}"
shift || true
case "$(cd "$(dirname "$out")" 2>/dev/null && pwd)/" in
  "$(cd "$here/../.." && pwd)"/*) echo "refusing to write corpora inside the repository: $out" >&2; exit 2 ;;
esac
mkdir -p "$out"
command -v fluidsynth >/dev/null || { echo "fluidsynth missing: apt-get install fluidsynth" >&2; exit 2; }
py="nice -n 19 python3"
$py "$here/build_fluid_gm.py" --out "$out" "$@"
$py "$here/build_hydrogen.py" --out "$out" "$@"
$py "$here/build_tuxpaint.py" --out "$out" "$@"
$py "$here/build_0ad.py" --out "$out" "$@"
$py "$here/build_pool.py" --out "$out"
