#!/usr/bin/env bash
# Tests the C int8 kernels (Sources/CLIPKernelsC) on every path they have, on this machine and on
# emulated ARM: Tests/CLIPKernelsC/test_kernels.c holds each path to a scalar C reference (exact
# integers, bit-identical floats, byte-identical quantization).
#
#   tools/ci/test-c-kernels.sh          # installs gcc-aarch64-linux-gnu and qemu-user when run as root
#
# Targets and the paths each runs:
#   x86_64-native    every path this CPU has (portable, avx2, avxvnni, avx512vnni), host cc
#   x86_64-portable  POCKETCLIP_ISA=portable: what dispatch picks on a CPU without AVX2
#   x86_64-cap-*     POCKETCLIP_ISA=avx2 / avxvnni: the cap picks the best path at or below it
#   aarch64-a72      qemu -cpu cortex-a72: NEON without dot product (portable, neon)
#   aarch64-a76      qemu -cpu cortex-a76: sdot (portable, neon, dotprod)
# Prints "<target>: N passed, M failed" per target; exits non-zero on any failure. ~15 s.
set -euo pipefail
cd "$(dirname "$0")/../.."

src=(Sources/CLIPKernelsC/*.c Tests/CLIPKernelsC/test_kernels.c)
flags=(-O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -ISources/CLIPKernelsC/include)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

if ! command -v aarch64-linux-gnu-gcc >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "installing gcc-aarch64-linux-gnu qemu-user" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-aarch64-linux-gnu qemu-user >/dev/null
  else
    echo "test-c-kernels: needs aarch64-linux-gnu-gcc and qemu-aarch64 (apt-get install gcc-aarch64-linux-gnu qemu-user)" >&2
    exit 2
  fi
fi

status=0
# run <target> <paths that must have run> <command...>: runs one test binary, prints its summary
# under the target's name. A path missing from the run (dispatch did not detect the CPU feature)
# is a failure, so a broken detection cannot pass by testing less.
run() {
  local target=$1 want=$2
  shift 2
  local log="$out/$target.log" line isa
  if "$@" >"$log" 2>&1; then :; else status=1; fi
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1 || true)
  if [[ -z $line ]]; then
    line="0 passed, 1 failed (no summary; see below)"
    status=1
  fi
  for isa in $want; do
    if ! grep -q "^isa $isa: " "$log"; then
      line="$line; path '$isa' did not run"
      status=1
    fi
  done
  echo "$target: $line"
  if [[ $line != *" 0 failed" ]]; then sed 's/^/    /' "$log" | head -40; fi
}

cc=${CC:-cc}
command -v "$cc" >/dev/null || cc=clang
"$cc" "${flags[@]}" "${src[@]}" -lm -o "$out/native"
native_paths="portable"
grep -qw avx2 /proc/cpuinfo && native_paths="$native_paths avx2"
grep -qw avx_vnni /proc/cpuinfo && native_paths="$native_paths avxvnni"
grep -qw avx512_vnni /proc/cpuinfo && native_paths="$native_paths avx512vnni"
run x86_64-native "$native_paths" "$out/native"
run x86_64-portable portable env POCKETCLIP_ISA=portable PC_TEST_EXPECT_DISPATCH=portable "$out/native" portable
# The cap picks the best path at or below its rung: avx2 on any AVX2 CPU; avxvnni gives AVX-VNNI
# where the CPU has it and AVX2 on an AVX-512 machine without it.
if [[ $native_paths == *avx2* ]]; then
  below_avxvnni=avx2
  [[ $native_paths == *avxvnni* ]] && below_avxvnni=avxvnni
  run x86_64-cap-avx2 avx2 env POCKETCLIP_ISA=avx2 PC_TEST_EXPECT_DISPATCH=avx2 "$out/native" avx2
  run x86_64-cap-avxvnni $below_avxvnni env POCKETCLIP_ISA=avxvnni PC_TEST_EXPECT_DISPATCH=$below_avxvnni "$out/native" $below_avxvnni
fi

# -ffp-contract=off is also set inside the sources; gcc's default (fast) would fuse across statements.
aarch64-linux-gnu-gcc "${flags[@]}" -ffp-contract=off "${src[@]}" -lm -o "$out/arm"
run aarch64-a72 "portable neon" qemu-aarch64 -cpu cortex-a72 -L /usr/aarch64-linux-gnu "$out/arm"
run aarch64-a76 "portable neon dotprod" qemu-aarch64 -cpu cortex-a76 -L /usr/aarch64-linux-gnu "$out/arm"
exit $status
