#!/usr/bin/env bash
# Real-time transfer benchmarks against the virtual board (about two
# minutes). Figures go to bench/README.md by hand, with the date and
# machine, because shared machines are noisy: compare ratios from one run.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench 'BenchmarkROMWrite1MiB115200|BenchmarkStubWrite1MiB921600' -benchtime 1x -count "${COUNT:-1}" ./flasher/ | tee "${OUT:-/dev/stderr}"
