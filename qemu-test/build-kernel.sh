#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the Rust-enabled test kernel (tinyconfig + qemu-test/kernel.config) into the cache
# and print the build directory on stdout. A cached build with the same key is reused.
#
#   build-kernel.sh [test|debug|arm64]     (default: test)
#
# debug adds kernel-debug.config (clang); arm64 is cross-built for QEMU's virt machine from
# kernel.config's portable lines and kernel-arm64.config (lib.sh kernel_fragment).
#
# RVFIO_JOBS: make's -j (default: the number of CPUs).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

flavour=${1:-test}
[ "$flavour" = test ] || [ -f "$RVFIO_ROOT/qemu-test/kernel-$flavour.config" ] ||
	die "no config fragment qemu-test/kernel-$flavour.config"
[ -f "$KSRC/Makefile" ] || die "kernel source missing: run qemu-test/setup.sh first"

build=$(kernel_build_dir "$flavour")
arch=$(kernel_arch "$flavour")
read -r -a make_flags <<<"$(kernel_make_flags "$flavour")"
kmake() { make -s -C "$KSRC" O="$build" ARCH="$arch" ${make_flags[@]+"${make_flags[@]}"} "$@"; }

if [ -f "$build/.rvfio-built" ]; then
	log "kernel ($flavour) cached: $build"
	echo "$build"
	exit 0
fi

log "configuring kernel ($flavour) in $build"
rm -rf "$build"
mkdir -p "$build"
fragment=$build/rvfio.config
kernel_fragment "$flavour" >"$fragment"
kmake tinyconfig >/dev/null
"$KSRC/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" "$fragment" >/dev/null
kmake olddefconfig >/dev/null

# Every fragment line must survive olddefconfig: a silently dropped option (a missing
# dependency) would otherwise surface much later as a confusing test failure.
lost=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=n) want="# ${line%=n} is not set" ;;
	CONFIG_*) want=$line ;;
	*) continue ;;
	esac
	if ! grep -qxF "$want" "$build/.config"; then
		log "config line lost in olddefconfig: $line (got: $(grep -E "^(# )?${line%%=*}[= ]" "$build/.config" || echo absent))"
		lost=1
	fi
done <"$fragment"
[ $lost -eq 0 ] || die "kernel config fragment not satisfied (missing dependencies above)"

kmake rustavailable >/dev/null || die "Rust toolchain not usable for this kernel (make rustavailable)"

jobs=${RVFIO_JOBS:-$(nproc)}
log "building kernel ($flavour) with -j$jobs; this takes 5-10 minutes the first time"
start=$SECONDS
image=$(basename "$(kernel_image "$build")")
kmake -j"$jobs" "$image" modules >"$build/build.log" 2>&1 || {
	tail -40 "$build/build.log" >&2
	die "kernel build failed (full log: $build/build.log)"
}
kmake INSTALL_MOD_PATH="$build/modroot" modules_install >/dev/null
# The selftests compile against this kernel's uAPI headers, not the build machine's.
kmake INSTALL_HDR_PATH="$build/usr-headers" headers_install >/dev/null
log "kernel built in $((SECONDS - start)) s"
touch "$build/.rvfio-built"
echo "$build"
