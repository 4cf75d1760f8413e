# SPDX-License-Identifier: GPL-2.0
# Shared settings for the rvfio host-side scripts. Sourced, never executed.
#
# Everything heavy (apt lists, the kernel source, bindgen, kernel builds) lives under
# $RVFIO_CACHE, outside the repository, so a second run rebuilds nothing.

RVFIO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RVFIO_CACHE=${RVFIO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rvfio}

# Pinned versions. Changing one of these invalidates the matching cache entry.
KERNEL_PKG=linux-source-7.3
KERNEL_VERSION=7.3.4
BINDGEN_VERSION=0.73.2
LLVM_VERSION=19

BINDGEN_ROOT=$RVFIO_CACHE/bindgen-$BINDGEN_VERSION
KSRC=$RVFIO_CACHE/src/$KERNEL_PKG
export LIBCLANG_PATH=/usr/lib/llvm-$LLVM_VERSION/lib
export PATH=$BINDGEN_ROOT/bin:$HOME/.cargo/bin:$PATH

log() { printf '\033[1m[rvfio]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[rvfio] error:\033[0m %s\n' "$*" >&2; exit 1; }

# kernel_make_flags FLAVOUR: make variables for building that flavour's kernel, and modules
# against it. The debug flavour is built with clang: Rust with KASAN requires CC_IS_CLANG
# (GNU binutils still link it, so no lld is needed).
kernel_make_flags() {
	case $1 in
	debug) echo "CC=clang-$LLVM_VERSION" ;;
	esac
}

# kernel_build_dir FLAVOUR: the cached build tree for a config flavour ("test" or "debug"),
# keyed by kernel version, the hash of the fragments that make the config, rustc and (when
# not the default) the C compiler. For Debian's kernels ("debian", "debian-rt"), the
# directory that qemu-test/distro.sh guest lays out like one.
kernel_build_dir() {
	local flavour=$1 hash flags
	case $flavour in
	debian) echo "$RVFIO_CACHE/debian/guest-amd64"; return ;;
	debian-rt) echo "$RVFIO_CACHE/debian/guest-rt-amd64"; return ;;
	esac
	flags=$(kernel_make_flags "$flavour")
	hash=$( { cat "$RVFIO_ROOT/qemu-test/kernel.config"
		  [ "$flavour" = test ] || cat "$RVFIO_ROOT/qemu-test/kernel-$flavour.config"
		  rustc --version
		  [ -z "$flags" ] || { echo "$flags"; clang-$LLVM_VERSION --version | head -1; }
		} | sha256sum | cut -c1-12)
	echo "$RVFIO_CACHE/build/$KERNEL_VERSION-$flavour-$hash"
}

# kernel_image DIR: the bootable kernel of a kernel_build_dir.
kernel_image() {
	if [ -f "$1/.rvfio-distro" ]; then
		echo "$1/modroot/lib/modules/$(cat "$1/.rvfio-distro")/vmlinuz"
	else
		echo "$1/arch/x86/boot/bzImage"
	fi
}
