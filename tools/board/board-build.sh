#!/usr/bin/env bash
# The board build (docs/board.md): one self-contained release `pocketclip` that runs on a
# Linux system with no Swift installed. The Swift standard library and Foundation are linked
# statically (--static-swift-stdlib); zstd, zlib and TurboJPEG are linked from their static
# archives; the "Training" trait is off (--disable-default-traits), so the executable has no
# `train`/`eval` commands and no OpenBLAS. What is left dynamic is glibc's family only: libc, libm and the loader.
#
#   tools/board/board-build.sh            # -> .build-board/pocketclip (stripped), then ldd and size
#   tools/board/board-build.sh --arch aarch64   # -> .build-board-aarch64/pocketclip (see below)
#
# .build-board/pocketclip is the file to copy to a board: .build-board/release/pocketclip with its
# symbol table and debug info stripped (about 30 MB -> 17 MB; crash backtraces then show
# addresses only, so keep the unstripped one next to it for reading them).
#
# Scratch path .build-board (apart from the everyday .build, so the two never rebuild each other).
# Needs the static archives of libzstd-dev, zlib1g-dev, libturbojpeg0-dev, libjpeg62-turbo-dev and libwebp-dev (Debian ships them in
# the same -dev packages). Exits non-zero if the result needs any library outside glibc's family.
#
# --arch aarch64: the same executable for 64-bit ARM boards, cross-compiled with Debian
# sid's swiftlang in the roots tools/board/aarch64-roots.sh makes (once; outside the repository,
# under $POCKETCLIP_AARCH64_ROOTS, default ~/.cache/pocketclip-aarch64). It is linked fully
# statically (-static-executable: glibc, libstdc++ and libgcc too), so it needs no glibc of any
# version on the board: sid's libc would ask for glibc 2.43, and Debian 12 / Raspberry Pi OS have
# 2.36. The script checks the result with `file` and `objdump -T` and fails unless it is a static
# aarch64 executable (or, were it dynamic, one that needs glibc <= 2.36). Needs root.
set -euo pipefail
cd "$(dirname "$0")/../.."
arch=native
while [[ $# -gt 0 ]]; do
  case $1 in
    --arch) arch=${2:-}; shift 2 || { echo "board-build: --arch needs a value" >&2; exit 2; } ;;
    --arch=*) arch=${1#--arch=}; shift ;;
    *) echo "board-build: unknown argument '$1' (usage: tools/board/board-build.sh [--arch aarch64])" >&2; exit 2 ;;
  esac
done
case $arch in
  native|x86_64|x86-64|"$(uname -m)") arch=native ;;
  aarch64|arm64) arch=aarch64 ;;
  *) echo "board-build: --arch $arch: only the native build and aarch64" >&2; exit 2 ;;
esac

if [[ $arch == aarch64 ]]; then
  scratch=.build-board-aarch64
  glibc_max=2.36   # Debian 12, Raspberry Pi OS (bookworm)
  roots=tools/board/aarch64-roots.sh
  t0=$SECONDS
  bash "$roots" make
  rootsdir=$(bash "$roots" dir)
  sysroot=$rootsdir/sysroot-arm64
  libdir=$sysroot/usr/lib/aarch64-linux-gnu
  # As for the host build below: .pc files of our own send -l zstd/z/turbojpeg to a directory with
  # only the archives (the sysroot's own .pc files would not do: their paths lack the sysroot, and
  # inside the compiler root pkg-config would otherwise find its amd64 ones).
  static=$PWD/$scratch/static-libs
  pc=$PWD/$scratch/pkgconfig
  mkdir -p "$static" "$pc"
  for spec in zstd:libzstd z:zlib turbojpeg:libturbojpeg jpeg:libjpeg webp:libwebp webpdemux:libwebpdemux; do
    lib=${spec%%:*} name=${spec#*:}
    [[ -f $libdir/lib$lib.a ]] || { echo "board-build: $libdir/lib$lib.a is missing (rm -rf $rootsdir/stamps and run again)" >&2; exit 1; }
    ln -sf "$libdir/lib$lib.a" "$static/lib$lib.a"
    printf 'Name: %s\nDescription: static %s for the aarch64 board build\nVersion: 0\nLibs: -L%s -l%s\nCflags:\n' \
      "$name" "$lib" "$static" "$lib" > "$pc/$name.pc"
  done
  echo "board-build: swift build for aarch64-unknown-linux-gnu in $rootsdir/sid-amd64 (release, fully static)"
  t1=$SECONDS
  bash "$roots" sid swift build -c release --product pocketclip --scratch-path "$scratch" \
    --swift-sdks-path "$rootsdir/sdk" --swift-sdk debian-sid-aarch64 \
    --disable-default-traits --static-swift-stdlib -Xswiftc -static-executable --pkg-config-path "$pc"
  tb=$((SECONDS - t1))
  out=$scratch/aarch64-unknown-linux-gnu/release/pocketclip
  bin=$scratch/pocketclip
  bash "$roots" sid llvm-objcopy --strip-all "$out" "$bin"
  echo "board-build: $bin (stripped copy of $out; swift build took $tb s, all $((SECONDS - t0)) s)"
  desc=$(file -b "$bin")
  echo "board-build: file: $desc"
  ls -l "$bin" | awk '{printf "board-build: size %d bytes (%.1f MB)\n", $5, $5 / 1048576}'
  if [[ $desc != *"ARM aarch64"* ]]; then
    echo "board-build: FAIL: $bin is not an aarch64 executable" >&2; exit 1
  fi
  # objdump -T lists the versioned glibc symbols a dynamic executable asks for; a static one has
  # no dynamic symbol table (and no ELF interpreter) at all.
  need=$(objdump -T "$bin" 2>/dev/null | grep -oE 'GLIBC_[0-9.]+' | sed 's/GLIBC_//' | sort -Vu | tail -n 1 || true)
  if [[ $desc == *"statically linked"* ]]; then
    if [[ -n $need ]] || readelf -lW "$bin" | grep -q INTERP; then
      echo "board-build: FAIL: file says static, but objdump -T/readelf find glibc symbols or an interpreter" >&2; exit 1
    fi
    echo "board-build: statically linked (objdump -T: no dynamic symbols): needs no glibc on the board"
  else
    if [[ -z $need ]] || [[ $(printf '%s\n' "$need" "$glibc_max" | sort -V | tail -n 1) != "$glibc_max" ]]; then
      echo "board-build: FAIL: dynamic, and needs glibc ${need:-?} (objdump -T); boards have $glibc_max" >&2; exit 1
    fi
    echo "board-build: dynamic, needs glibc $need <= $glibc_max (objdump -T)"
  fi
  exit 0
fi

scratch=.build-board

# The modulemaps say `link "zstd"` etc. and SwiftPM reads each library's pkg-config file, whose
# -L/usr/lib/<triple> comes first on the link line, so the linker finds the .so. Our own .pc files
# (same names, searched first through --pkg-config-path) point -L at a directory holding only the
# static archives, so the same -l flags pick the .a files, with no change to the package (which
# stays usable as a dependency: no unsafeFlags).
triple=$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
libdir=/usr/lib/$triple
static=$PWD/$scratch/static-libs
pc=$PWD/$scratch/pkgconfig
mkdir -p "$static" "$pc"
for spec in zstd:libzstd z:zlib turbojpeg:libturbojpeg jpeg:libjpeg webp:libwebp webpdemux:libwebpdemux; do
  lib=${spec%%:*} name=${spec#*:}
  archive=$libdir/lib$lib.a
  if [[ ! -f $archive ]]; then
    echo "board-build: $archive is missing; install the -dev package that ships it (libzstd-dev, zlib1g-dev, libturbojpeg0-dev, libjpeg62-turbo-dev, libwebp-dev)" >&2
    exit 1
  fi
  ln -sf "$archive" "$static/lib$lib.a"
  printf 'Name: %s\nDescription: static %s for the board build\nVersion: 0\nLibs: -L%s -l%s\nCflags:\n' \
    "$name" "$lib" "$static" "$lib" > "$pc/$name.pc"
done

# The static Swift runtime asks for -lstdc++ (its own link file) and clang adds libgcc_s: the
# archive of libstdc++ in the same directory, and -static-libgcc, make those static too, which
# leaves libc, libm and the loader, present on every glibc system.
cxx=$(gcc -print-file-name=libstdc++.a 2>/dev/null || true)
if [[ -f $cxx ]]; then
  ln -sf "$cxx" "$static/libstdc++.a"
else
  echo "board-build: no libstdc++.a (g++'s libstdc++-dev); libstdc++.so.6 stays dynamic" >&2
fi

swift build -c release --product pocketclip --scratch-path "$scratch" \
  --disable-default-traits --static-swift-stdlib --pkg-config-path "$pc" \
  -Xswiftc -Xclang-linker -Xswiftc -static-libgcc

bin=$scratch/pocketclip
strip -o "$bin" "$scratch/release/pocketclip"
echo "board-build: $bin (stripped copy of $scratch/release/pocketclip)"
ldd "$bin"
ls -l "$bin" | awk '{printf "board-build: size %d bytes (%.1f MB)\n", $5, $5 / 1048576}'

# Anything beyond glibc's own libraries (libstdc++/libgcc_s are tolerated: Debian's minimal
# root has them, and they would be dynamic only if libstdc++.a were missing) would have to be installed on the board: refuse it here rather than there.
extra=$(ldd "$bin" | awk '{print $1}' | grep -vE '^(linux-vdso\.so|/lib64/ld-linux|/lib/ld-linux|libc\.so|libm\.so|libpthread\.so|libdl\.so|librt\.so|libstdc\+\+\.so|libgcc_s\.so)' || true)
if [[ -n $extra ]]; then
  echo "board-build: the executable needs libraries outside glibc's family:" >&2
  echo "$extra" >&2
  exit 1
fi
echo "board-build: only glibc-family libraries are dynamic"
