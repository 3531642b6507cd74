#!/usr/bin/env bash
# The roots the aarch64 board build and its check need (docs/board.md), made once outside
# the repository and reused after. All from Debian's own mirror; the system's apt sources are never
# touched (sid is looked up through a private apt configuration under the roots directory).
#
#   tools/board/aarch64-roots.sh [--dir DIR] [make]    the compiler root, the arm64 sysroot, the Swift SDK
#   tools/board/aarch64-roots.sh [--dir DIR] board     the arm64 bookworm minbase root (board-check.sh)
#   tools/board/aarch64-roots.sh [--dir DIR] dir       print the roots directory
#   tools/board/aarch64-roots.sh [--dir DIR] sid CMD…  run CMD in the compiler root (makes it first if
#                                                missing), in the current directory, which (with
#                                                the sysroot and the SDK) is bound at the same path
#   tools/board/aarch64-roots.sh arm64 CMD…            run CMD where aarch64 executables run: a private
#                                                user, mount and PID namespace whose own
#                                                binfmt_misc hands them to qemu-aarch64-static
#
# DIR: --dir, else $POCKETCLIP_AARCH64_ROOTS, else ~/.cache/pocketclip-aarch64 ($XDG_CACHE_HOME if
# set). It holds
#   apt/            the private apt configuration for sid (amd64 + arm64), its lists and downloads
#   sid-amd64/      Debian sid amd64 minbase with swiftlang (6.2.3 when written): the compiler.
#                   Debian 12's glibc 2.36 cannot run sid's swiftlang (it needs 2.42), and the
#                   host's Swift cannot import the 6.2.3 aarch64 modules, so the build runs here,
#                   entered with unshare -m + chroot (see `sid` above)
#   sysroot-arm64/  sid arm64 libc, libstdc++, zlib, zstd, libjpeg-turbo (TurboJPEG and libjpeg), libwebp, OpenBLAS (-dev) and the
#                   Swift runtime (libswiftlang), plus the aarch64 modules and static runtime from
#                   swiftlang:arm64 (only usr/libexec/swift/lib/{swift,swift_static,clang})
#   sdk/            debian-sid-aarch64.artifactbundle, the Swift SDK over that sysroot
#                   (swift build --swift-sdks-path DIR/sdk --swift-sdk debian-sid-aarch64)
#   bookworm-arm64/ `board` only: Debian 12 arm64 minbase, the stand-in for a board
#   stamps/         one file per finished root; a root without its stamp is made again
# About 1.2 GB download and 4 GB on disk for `make` (swiftlang is 500 MB for each architecture),
# 200 MB for `board`.
#
# Needs root. Installs what it uses on the host with apt (mmdebstrap, qemu-user-static). No
# binfmt_misc registration on the host is needed or made: `arm64` mounts a private binfmt_misc
# instance in its own user namespace (Linux >= 6.7), or uses the host's if qemu-aarch64 is
# registered there with the F flag.
#
# POCKETCLIP_MIRROR: the Debian mirror (default http://deb.debian.org/debian).
set -euo pipefail

recipe=1   # bump when what goes into a root changes: roots with an older stamp are made again
sysroot_recipe=2   # bump when the sysroot's packages change (2: libjpeg62-turbo-dev, libwebp-dev)
repo=$(cd "$(dirname "$0")/../.." && pwd)
self=$repo/tools/board/$(basename "$0")
dir=${POCKETCLIP_AARCH64_ROOTS:-${XDG_CACHE_HOME:-$HOME/.cache}/pocketclip-aarch64}
mirror=${POCKETCLIP_MIRROR:-http://deb.debian.org/debian}
novalid='Acquire::Check-Valid-Until "false"'   # a clock ahead of sid's Release dates rejects them

say() { echo "aarch64-roots: $*" >&2; }
die() { echo "aarch64-roots: $*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --dir) dir=$2; shift 2 ;;
    --dir=*) dir=${1#--dir=}; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
  esac
done
cmd=${1:-make}
[[ $# -gt 0 ]] && shift
[[ $dir == /* ]] || dir=$PWD/$dir
R=$dir/sid-amd64 S=$dir/sysroot-arm64 B=$dir/bookworm-arm64 SDKS=$dir/sdk
sdk_id=debian-sid-aarch64

# ---------------------------------------------------------------------------------------------
# arm64: run "$@" in a user namespace (identity-mapped, so files keep their owners) with its own
# mount and PID namespaces and its own binfmt_misc, where qemu-aarch64-static runs aarch64 ELF
# files. F: the kernel opens the emulator now, so it also serves executables inside a chroot that
# does not contain it.
qemu_binfmt=':qemu-aarch64:M::\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-aarch64-static:F'

if [[ $cmd == __arm64-inner ]]; then
  # Started by unshare before the parent wrote our uid map: wait for it (an exec after that gets
  # the namespace's full capabilities).
  until grep -q . /proc/self/uid_map 2>/dev/null; do sleep 0.05; done
  exec bash -c '
    set -e
    mount -t proc proc /proc
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    echo "$1" > /proc/sys/fs/binfmt_misc/register
    shift; exec "$@"' bash "$qemu_binfmt" "$@"
fi

need_root() { [[ $(id -u) -eq 0 ]] || die "needs root (mmdebstrap, chroot, mount namespaces)"; }

# Host packages, installed only when one of the commands is missing.
host_prereqs() {
  local missing=() spec
  for spec in mmdebstrap:mmdebstrap qemu-aarch64-static:qemu-user-static unshare:util-linux \
      file:file objdump:binutils; do
    command -v "${spec%%:*}" > /dev/null || missing+=("${spec#*:}")
  done
  if ((${#missing[@]})); then
    say "installing on the host: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
  fi
}

arm64_run() {
  need_root
  host_prereqs
  if grep -qs '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
      && grep -qs '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64; then
    exec unshare --mount --pid --fork --mount-proc --propagation private -- "$@"
  fi
  local pid me
  me=$(readlink /proc/self/ns/user)
  unshare --user --mount --pid --fork --kill-child --propagation private -- bash "$self" __arm64-inner "$@" &
  pid=$!
  # The map can be written once unshare is in its new user namespace.
  for _ in $(seq 200); do
    [[ $(readlink "/proc/$pid/ns/user" 2>/dev/null) != "$me" ]] && break
    sleep 0.05
  done
  if ! { echo '0 0 4294967295' > "/proc/$pid/uid_map" && echo '0 0 4294967295' > "/proc/$pid/gid_map"; } 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    die "could not map the user namespace of pid $pid"
  fi
  local rc=0
  wait "$pid" || rc=$?
  if [[ $rc -ne 0 ]] && ! grep -q binfmt_misc /proc/filesystems; then
    say "this kernel has no binfmt_misc; register qemu-aarch64 (F flag) on the host instead"
  fi
  return $rc
}

if [[ $cmd == arm64 ]]; then
  [[ $# -gt 0 ]] || die "arm64: no command"
  arm64_run "$@"
  exit $?
fi

# ---------------------------------------------------------------------------------------------
# The sysroot's package list has its own number, so adding a library remakes only the sysroot
# (about a minute), not the compiler root.
recipe_of() { if [[ $1 == sysroot-arm64 ]]; then echo "$recipe.$sysroot_recipe"; else echo "$recipe"; fi; }
stamp_ok() { [[ -f $dir/stamps/$1 ]] && grep -qx "recipe=$(recipe_of "$1")" "$dir/stamps/$1"; }
stamp_write() { mkdir -p "$dir/stamps"; { echo "recipe=$(recipe_of "$1")"; cat; } > "$dir/stamps/$1"; }
stamp_get() { sed -n "s/^$2=//p" "$dir/stamps/$1" 2>/dev/null; }
t0=$SECONDS
elapsed() { echo "$((SECONDS - $1)) s"; }

lock() {
  mkdir -p "$dir"
  exec 9> "$dir/.lock"
  flock -n 9 || { say "waiting for another run on $dir"; flock 9; }
}

# The private apt configuration for sid (the swiftlang lookup and the swiftlang:arm64 download).
A=$dir/apt
apt_sid() { APT_CONFIG=$A/apt.conf "$@"; }
apt_setup() {
  mkdir -p "$A/lists/partial" "$A/cache/archives/partial"
  echo "deb [arch=amd64,arm64] $mirror sid main" > "$A/sources.list"
  cat > "$A/apt.conf" <<EOF
Dir::Etc::sourcelist "$A/sources.list";
Dir::Etc::sourceparts "-";
Dir::State::Lists "$A/lists";
Dir::State::status "$A/status";
Dir::Cache "$A/cache";
APT::Architectures { "amd64"; "arm64"; };
APT::Sandbox::User "root";
Acquire::Languages "none";
$novalid;
EOF
  touch "$A/status"
  say "apt-get update (sid amd64+arm64, private configuration in $A)"
  apt_sid apt-get update -qq
}
candidate() { apt_sid apt-cache policy "$1" | sed -n 's/^ *Candidate: //p'; }

# In the compiler root: a private mount namespace, the root's own /proc and the host's /dev and
# /sys, and at the same paths as outside: the current directory, the sysroot and the SDK, and any
# local directory git's url.<base>.insteadOf points at (a mirror of the package dependencies).
sid_run() {
  local cwd=$PWD key base line
  local binds=("$cwd" "$S" "$SDKS")
  : > "$R/root/.gitconfig"
  if command -v git > /dev/null; then
    while read -r key line; do
      base=${key#url.}; base=${base%.insteadof}
      git config --file "$R/root/.gitconfig" --add "url.$base.insteadOf" "$line"
      [[ $base == /* && -d $base ]] && binds+=("$base")
    done < <(git config --get-regexp '^url\..*\.insteadof$' 2>/dev/null || true)
  fi
  cp -L /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
  unshare --mount --propagation private -- bash -c '
    set -e
    R=$1 cwd=$2 n=$3; shift 3
    mount -t proc proc "$R/proc"
    mount --rbind /dev "$R/dev"; mount --rbind /sys "$R/sys"
    for ((i = 0; i < n; i++)); do
      d=$1; shift
      [[ -d $d ]] || continue
      mkdir -p "$R$d"; mount --bind "$d" "$R$d"
    done
    exec chroot "$R" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
      PATH=/usr/libexec/swift/bin:/usr/local/bin:/usr/bin:/bin \
      bash -c "cd \"\$0\" && exec \"\$@\"" "$cwd" "$@"
  ' bash "$R" "$cwd" "${#binds[@]}" "${binds[@]}" "$@"
}

# ---------------------------------------------------------------------------------------------
make_sid_root() {
  local v=$1 t=$SECONDS
  say "making the compiler root $R: sid amd64 minbase + swiftlang $v (about 600 MB download)"
  rm -rf "$R.partial"
  mmdebstrap --mode=root --variant=minbase --aptopt="$novalid" \
    --include="swiftlang=$v,g++,git,pkgconf,ca-certificates,libc6-dev,zlib1g-dev,libzstd-dev,libturbojpeg0-dev" \
    sid "$R.partial" "$mirror" 2>&1 | sed 's/^/  mmdebstrap: /' >&2
  [[ -x $R.partial/usr/libexec/swift/bin/swift-build ]] || die "$R.partial has no swift-build"
  rm -rf "$R"; mv "$R.partial" "$R"
  printf 'swiftlang=%s\nmade=%s\n' "$v" "$(date -u +%FT%TZ)" | stamp_write sid-amd64
  say "compiler root done in $(elapsed "$t") ($(du -sh "$R" | cut -f1))"
}

make_sysroot() {
  local v=$1 t=$SECONDS gcc deb
  # The gcc sid builds with (16 when written): its libgcc and libstdc++ -dev packages.
  gcc=$(apt_sid apt-cache depends gcc:arm64 | grep -oE 'Depends: gcc-[0-9]+' | head -n 1 | grep -oE '[0-9]+$')
  [[ -n $gcc ]] || die "cannot tell which gcc sid's gcc:arm64 depends on"
  say "making the arm64 sysroot $S: sid libc, gcc $gcc's libstdc++, zlib, zstd, libjpeg-turbo (TurboJPEG and libjpeg), libwebp, OpenBLAS, libswiftlang $v"
  rm -rf "$S.partial"
  # extract: unpacked, no maintainer scripts (nothing arm64 runs here)
  mmdebstrap --mode=root --variant=extract --arch=arm64 --skip=check/qemu --aptopt="$novalid" \
    --include="libc6-dev,libgcc-$gcc-dev,libstdc++-$gcc-dev,zlib1g-dev,libzstd-dev,libturbojpeg0-dev,libjpeg62-turbo-dev,libwebp-dev,libopenblas-dev,libopenblas-pthread-dev,libgfortran5,libswiftlang=$v" \
    sid "$S.partial" "$mirror" 2>&1 | sed 's/^/  mmdebstrap: /' >&2
  # swiftlang:arm64 for the aarch64 .swiftmodules, swiftrt.o, the static runtime and clang's
  # headers; not its compilers, embedded or host modules (1.7 GB of the package).
  say "downloading swiftlang:arm64 $v (about 500 MB) and unpacking its target libraries"
  (cd "$A/cache/archives" && apt_sid apt-get download -qq "swiftlang:arm64=$v")
  deb=$(ls "$A/cache/archives/"swiftlang_*_arm64.deb | grep -F "_${v/:/%3a}_" | head -n 1)
  [[ -f $deb ]] || die "swiftlang:arm64 $v did not download"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$S.partial" \
    --exclude=./usr/libexec/swift/lib/swift/embedded --exclude=./usr/libexec/swift/lib/swift/host \
    --exclude=./usr/libexec/swift/lib/swift_static/embedded \
    ./usr/libexec/swift/lib/swift ./usr/libexec/swift/lib/swift_static ./usr/libexec/swift/lib/clang
  rm -f "$deb"
  (
    cd "$S.partial"
    # the ELF interpreter and crt files are looked up under lib/; the driver looks for
    # <sdk>/usr/lib/swift{,_static}
    [[ -e lib ]] || ln -s usr/lib lib
    [[ -e bin ]] || ln -s usr/bin bin
    ln -sfn ../libexec/swift/lib/swift usr/lib/swift
    ln -sfn ../libexec/swift/lib/swift_static usr/lib/swift_static
    # what update-alternatives would have made for OpenBLAS (the Training trait and its tests)
    a=usr/lib/aarch64-linux-gnu
    ln -sfn ../openblas-pthread/pkgconfig/openblas.pc $a/pkgconfig/openblas.pc
    ln -sfn openblas-pthread/libopenblas.so.0 $a/libopenblas.so.0
    ln -sfn openblas-pthread/libopenblas.so $a/libopenblas.so
    # Debian ships the _Testing_Foundation module without its library; the link of SwiftPM's
    # test runner asks for it. An empty archive satisfies it.
    f=usr/libexec/swift/lib/swift/linux/lib_Testing_Foundation.a
    [[ -f $f ]] || printf '!<arch>\n' > $f
  )
  [[ -f $S.partial/usr/libexec/swift/lib/swift_static/linux/libswiftCore.a ]] || die "no static Swift runtime in $S.partial"
  rm -rf "$S"; mv "$S.partial" "$S"
  printf 'swiftlang=%s\ngcc=%s\nglibc=%s\nmade=%s\n' "$v" "$gcc" \
    "$(candidate libc6:arm64)" \
    "$(date -u +%FT%TZ)" | stamp_write sysroot-arm64
  say "sysroot done in $(elapsed "$t") ($(du -sh "$S" | cut -f1))"
}

# The Swift SDK bundle: small, written on every run.
write_sdk() {
  local v=$SDKS/$sdk_id.artifactbundle/$sdk_id/aarch64-unknown-linux-gnu
  mkdir -p "$v"
  ln -sfn "$S" "$v/sysroot"
  cat > "$SDKS/$sdk_id.artifactbundle/info.json" <<EOF
{ "schemaVersion": "1.0",
  "artifacts": { "$sdk_id": { "type": "swiftSDK", "version": "$(stamp_get sysroot-arm64 swiftlang)",
    "variants": [ { "path": "$sdk_id/aarch64-unknown-linux-gnu" } ] } } }
EOF
  cat > "$v/swift-sdk.json" <<'EOF'
{ "schemaVersion": "4.0",
  "targetTriples": { "aarch64-unknown-linux-gnu": {
    "sdkRootPath": "sysroot",
    "swiftResourcesPath": "sysroot/usr/lib/swift",
    "swiftStaticResourcesPath": "sysroot/usr/lib/swift_static",
    "toolsetPaths": [ "toolset.json" ] } } }
EOF
  # The linker is the compiler root's lld (a path inside that root).
  cat > "$v/toolset.json" <<'EOF'
{ "schemaVersion": "1.0",
  "swiftCompiler": { "extraCLIOptions": [ "-use-ld=lld" ] },
  "linker": { "path": "/usr/libexec/swift/bin/ld.lld" } }
EOF
}

make_build_roots() {
  need_root
  lock
  if stamp_ok sid-amd64 && stamp_ok sysroot-arm64 && [[ -d $R && -d $S ]]; then
    write_sdk
    say "reusing $dir: swiftlang $(stamp_get sid-amd64 swiftlang) (made $(stamp_get sid-amd64 made)), sysroot glibc $(stamp_get sysroot-arm64 glibc)"
    return
  fi
  host_prereqs
  apt_setup
  local v va
  v=$(candidate swiftlang:amd64) va=$(candidate swiftlang:arm64)
  [[ -n $v && $v != "(none)" ]] || die "sid has no swiftlang"
  # The aarch64 modules must come from the compiler that reads them: same upstream version.
  [[ ${v%-*} == "${va%-*}" ]] || die "swiftlang differs between amd64 ($v) and arm64 ($va) in sid today; try again later"
  [[ ${v%%-*} == 6.2.3 ]] || say "note: sid's swiftlang is $v; this script was written for 6.2.3"
  if ! stamp_ok sid-amd64 || [[ ! -d $R ]]; then
    make_sid_root "$v"
  else
    v=$(stamp_get sid-amd64 swiftlang)   # the sysroot must match the compiler already there
    say "reusing the compiler root $R (swiftlang $v)"
  fi
  if ! stamp_ok sysroot-arm64 || [[ ! -d $S ]]; then
    make_sysroot "$v"
  fi
  write_sdk
  say "ready in $(elapsed "$t0"): $R, $S, $SDKS ($(du -sh "$dir" | cut -f1) in all)"
}

make_board_root() {
  need_root
  lock
  if stamp_ok bookworm-arm64 && [[ -x $B/bin/sh ]]; then
    say "reusing $B (made $(stamp_get bookworm-arm64 made))"
    return
  fi
  host_prereqs
  local t=$SECONDS
  say "making $B: Debian 12 arm64 minbase, its maintainer scripts run under qemu (a few minutes)"
  rm -rf "$B.partial"
  # /sys cannot be mounted in the user namespace: mmdebstrap says so and goes on.
  arm64_run mmdebstrap --mode=root --variant=minbase --arch=arm64 --skip=check/qemu \
    bookworm "$B.partial" "$mirror" 2>&1 | grep -v -e '^mount: .*/sys: permission denied' -e 'dmesg(1) may have more' \
    | sed 's/^/  mmdebstrap: /' >&2
  [[ -x $B.partial/bin/sh && -f $B.partial/var/lib/dpkg/status ]] || die "mmdebstrap did not make $B.partial"
  rm -rf "$B"; mv "$B.partial" "$B"
  printf 'made=%s\n' "$(date -u +%FT%TZ)" | stamp_write bookworm-arm64
  say "board root done in $(elapsed "$t") ($(du -sh "$B" | cut -f1), $(grep -c '^Package:' "$B/var/lib/dpkg/status") packages)"
}

case $cmd in
  make) make_build_roots ;;
  board) make_board_root ;;
  dir) echo "$dir" ;;
  sid)
    [[ $# -gt 0 ]] || die "sid: no command"
    need_root
    stamp_ok sid-amd64 && stamp_ok sysroot-arm64 && [[ -d $R && -d $S ]] || make_build_roots
    sid_run "$@" ;;
  *) die "unknown command '$cmd' (make, board, dir, sid, arm64; --help)" ;;
esac
