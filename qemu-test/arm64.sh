#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The arm64 guest (RVFIO_KERNEL=arm64): QEMU's virt machine with GICv3 and its ITS, and
# SMMUv3 in front of the PCIe host bridge. Everything is cross-built here and cached under
# $RVFIO_CACHE/arm64; nothing of arm64 is installed on this machine but the cross compiler
# and the emulator.
#
#   arm64.sh setup    the cross toolchain (Debian's gcc-aarch64-linux-gnu, rustup's
#                     aarch64-unknown-linux-gnu for the Rust tests), QEMU 10's
#                     qemu-system-aarch64 (bookworm-backports), and bookworm's arm64
#                     busybox-static, bash-static and uuid-dev unpacked into a sysroot
#   arm64.sh build    setup, the kernel (build-kernel.sh arm64), and in a copy of the
#                     sources: rvfio's modules (CLIPPY=1, no warning), the test modules and
#                     the static selftests; prints the kernel's build directory
#
# The kernel's Rust needs no prebuilt target: it builds `core` for
# aarch64-unknown-none-softfloat from rustup's rust-src.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cmd=${1:?usage: arm64.sh setup|build}
APT_DIR=$ARM64_DIR/apt
SYSROOT_PACKAGES=(busybox-static bash-static uuid-dev libuuid1)

# A private apt configuration for arm64's packages of bookworm: .debs downloaded, never
# installed.
apt_arm64() {
	apt-get -o Dir::Etc::sourcelist="$APT_DIR/sources.list" -o Dir::Etc::sourceparts=- \
		-o Dir::State::Lists="$APT_DIR/lists" -o Dir::Cache="$APT_DIR/cache" \
		-o APT::Architecture=arm64 -o APT::Architectures=arm64 \
		-o APT::Sandbox::User=root "$@"
}

setup() {
	local p
	"$RVFIO_ROOT/qemu-test/setup.sh" >&2
	# The C library's headers and static archives come with libc6-dev-arm64-cross, which
	# gcc-aarch64-linux-gnu only recommends.
	[ -f /usr/aarch64-linux-gnu/lib/libc.a ] && command -v "${ARM64_CROSS_COMPILE}gcc" >/dev/null ||
		"$RVFIO_ROOT/qemu-test/setup.sh" install gcc-aarch64-linux-gnu libc6-dev-arm64-cross >&2
	# bookworm's own qemu-system-arm (7.2) has no igb; 10.0 matches the x86 emulator.
	qemu-system-aarch64 -device help 2>/dev/null | grep -q '"igb"' ||
		"$RVFIO_ROOT/qemu-test/setup.sh" install qemu-system-arm/bookworm-backports >&2
	qemu-system-aarch64 -device help | grep -q '"igb"' || die "qemu-system-aarch64 has no igb device"
	rustup target list --installed | grep -qx aarch64-unknown-linux-gnu ||
		rustup target add aarch64-unknown-linux-gnu >&2
	[ -f "$ARM64_SYSROOT/.rvfio-unpacked" ] && return
	log "downloading bookworm's arm64 ${SYSROOT_PACKAGES[*]} into $ARM64_SYSROOT"
	mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial" "$APT_DIR/debs"
	echo "deb http://deb.debian.org/debian bookworm main" >"$APT_DIR/sources.list"
	apt_arm64 -qq update
	rm -rf "$ARM64_SYSROOT" "$APT_DIR"/debs/*
	(cd "$APT_DIR/debs" && apt_arm64 -qq download "${SYSROOT_PACKAGES[@]}")
	for p in "$APT_DIR"/debs/*.deb; do dpkg-deb -x "$p" "$ARM64_SYSROOT"; done
	file -L "$ARM64_SYSROOT/bin/busybox" | grep -q 'ARM aarch64.*statically linked' ||
		die "$ARM64_SYSROOT/bin/busybox is not a static arm64 program"
	touch "$ARM64_SYSROOT/.rvfio-unpacked"
}

# The repository's own build, on a copy of the sources (the work tree's objects are the
# x86 kernels'), with the kernel's ARCH and cross prefix.
build() {
	local kbuild src=$ARM64_DIR/src log=$ARM64_DIR/modules-build.log
	setup
	kbuild=$("$RVFIO_ROOT/qemu-test/build-kernel.sh" arm64)
	mkdir -p "$src"
	rsync -a --delete --exclude=.git --exclude=/generated --exclude=/selftests/out \
		--exclude=/selftests/kbuild --exclude=target --exclude='*.o' --exclude='*.ko' \
		--exclude='.*.cmd' "$RVFIO_ROOT/" "$src/"
	log "building rvfio for arm64 (CLIPPY=1)"
	make -s -C "$src" KDIR="$kbuild" ARCH=arm64 CROSS_COMPILE="$ARM64_CROSS_COMPILE" CLIPPY=1 \
		modules test-modules >"$log" 2>&1 || { cat "$log" >&2; die "arm64 module build failed"; }
	if grep -E '^(warning|error)' "$log" >/dev/null; then
		cat "$log" >&2
		die "arm64 module build has warnings (rustc/clippy must be clean)"
	fi
	log "building the static selftests for arm64"
	make -s -C "$src/selftests" KHDR="$kbuild/usr-headers/include" ARCH=arm64 \
		CROSS_COMPILE="$ARM64_CROSS_COMPILE" \
		RUST_TARGET=aarch64-unknown-linux-gnu UUID_SYSROOT="$ARM64_SYSROOT" \
		CARGO_TARGET_ROOT="$RVFIO_CACHE/cargo-target-arm64" >"$ARM64_DIR/selftests-build.log" 2>&1 ||
		{ tail -40 "$ARM64_DIR/selftests-build.log" >&2; die "arm64 selftest build failed"; }
	echo "$kbuild"
}

case $cmd in
setup) setup ;;
build) build ;;
*) die "unknown command '$cmd' (setup, build)" ;;
esac
