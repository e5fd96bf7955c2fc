#!/bin/sh
# Rebuilds the crash-decoder fixture and addr2line's answers for it.
# Needs Debian's gcc-xtensa-lx106 and binutils-xtensa-lx106; CI does not run
# this (the outputs are checked in). See README.md.
set -eu
cd "$(dirname "$0")"
xtensa-lx106-elf-gcc -std=gnu17 -g -Os -mlongcalls -mtext-section-literals \
	-falign-functions=4 -ffunction-sections -fdata-sections -ffreestanding \
	-nostdlib -fdebug-prefix-map="$PWD"=/fixture \
	-Wl,--gc-sections -Wl,-T,fixture.ld -o fixture.elf crash.c util.c
# Every address of both code sections, one past their ends, and a few
# addresses outside the ELF's code (mask ROM, beyond the flash window, 0).
addrs=$( (seq 1074790400 1074790422; seq 1075843088 1075843245; printf "%s\n" 1073741824 1073798373 1076887552 0 4294967295) |
	while read -r a; do printf '0x%08x\n' "$a"; done)
# shellcheck disable=SC2086
xtensa-lx106-elf-addr2line -pfiaC -e fixture.elf $addrs > fixture.addr2line.txt
