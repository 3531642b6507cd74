#!/usr/bin/env bash
# The board build (issue 6, docs/board.md): one self-contained release `pocketclip` that runs on a
# Linux system with no Swift installed. The Swift standard library and Foundation are linked
# statically (--static-swift-stdlib); zstd, zlib and TurboJPEG are linked from their static
# archives; the "Training" trait is off (--disable-default-traits), so the executable has no
# `train`/`eval` commands and no OpenBLAS. What is left dynamic is glibc's family only: libc, libm and the loader.
#
#   tools/board-build.sh            # -> .build-board/pocketclip (stripped), then ldd and size
#
# .build-board/pocketclip is the file to copy to a board: .build-board/release/pocketclip with its
# symbol table and debug info stripped (about 30 MB -> 17 MB; crash backtraces then show
# addresses only, so keep the unstripped one next to it for reading them).
#
# Scratch path .build-board (apart from the everyday .build, so the two never rebuild each other).
# Needs the static archives of libzstd-dev, zlib1g-dev and libturbojpeg0-dev (Debian ships them in
# the same -dev packages). Exits non-zero if the result needs any library outside glibc's family.
set -euo pipefail
cd "$(dirname "$0")/.."
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
for spec in zstd:libzstd z:zlib turbojpeg:libturbojpeg; do
  lib=${spec%%:*} name=${spec#*:}
  archive=$libdir/lib$lib.a
  if [[ ! -f $archive ]]; then
    echo "board-build: $archive is missing; install the -dev package that ships it (libzstd-dev, zlib1g-dev, libturbojpeg0-dev)" >&2
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
