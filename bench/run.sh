#!/usr/bin/env bash
# Real-time benchmarks (virtual boards at ×1, peers on loopback). Each runs
# once; bench/README.md records the latest figures. Not part of CI: they
# take minutes and machines here are shared.
set -euo pipefail
cd "$(dirname "$0")/.."
run() { go test -run '^$' -bench "$1" -benchtime 1x -count "${COUNT:-1}" "$2" | tee -a "${OUT:-/dev/stderr}"; }
run 'BenchmarkROMWrite1MiB115200|BenchmarkStubWrite1MiB921600|BenchmarkESP32Reflash1MiB921600|BenchmarkESP32ProbeStrategies' ./flasher/
run 'BenchmarkBuild1MB60Files' ./flasher/spiffs/
run 'BenchmarkOTAUpload500KB' ./flasher/ota/
run 'BenchmarkFlood' ./mqttview/
run 'BenchmarkMonitor2Mbaud|BenchmarkProvisionRealTime' ./cmd/iotbench/
IOTBENCH_BENCH_SECONDS=${IOTBENCH_BENCH_SECONDS:-10} run 'BenchmarkTUI2Mbaud|BenchmarkTUILoad' ./tui/
