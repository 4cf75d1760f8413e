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
	arm64) echo "CROSS_COMPILE=$ARM64_CROSS_COMPILE" ;;
	esac
}

# The arm64 kernel is cross-built with Debian's gcc-aarch64-linux-gnu; rvfio's build for it
# and arm64's busybox, bash and libuuid (qemu-test/arm64.sh) live in ARM64_DIR.
ARM64_CROSS_COMPILE=aarch64-linux-gnu-
ARM64_DIR=$RVFIO_CACHE/arm64
ARM64_SYSROOT=$ARM64_DIR/sysroot

# kernel_arch FLAVOUR: the kernel's ARCH for a config flavour.
kernel_arch() {
	case $1 in
	arm64) echo arm64 ;;
	*) echo x86_64 ;;
	esac
}

# kernel_cc FLAVOUR: the C compiler that builds a flavour's kernel.
kernel_cc() {
	case $1 in
	debug) echo "clang-$LLVM_VERSION" ;;
	arm64) echo "${ARM64_CROSS_COMPILE}gcc" ;;
	*) echo gcc ;;
	esac
}

# What kernel.config says only for the x86 guest (q35: ACPI tables, the x86 IOMMUs and
# interrupt remapping, the 8250 UART, SVM, a compressed bzImage); the arm64 kernel takes
# the rest of it.
X86_ONLY_OPTIONS=(CONFIG_KERNEL_GZIP CONFIG_ACPI CONFIG_X86_X2APIC CONFIG_PCI_MMCONFIG CONFIG_INTEL_IOMMU
	CONFIG_INTEL_IOMMU_DEFAULT_ON CONFIG_AMD_IOMMU CONFIG_IRQ_REMAP CONFIG_INTEL_IOMMU_DEBUGFS
	CONFIG_KVM_AMD CONFIG_CPU_SUP_AMD CONFIG_SERIAL_8250 CONFIG_SERIAL_8250_CONSOLE)

# kernel_fragment FLAVOUR: the config fragment a flavour's kernel is made from, on stdout
# (applied on top of tinyconfig).
kernel_fragment() {
	case $1 in
	test) cat "$RVFIO_ROOT/qemu-test/kernel.config" ;;
	arm64)
		grep -v -E "^($(IFS='|'; echo "${X86_ONLY_OPTIONS[*]}"))=" "$RVFIO_ROOT/qemu-test/kernel.config"
		cat "$RVFIO_ROOT/qemu-test/kernel-arm64.config" ;;
	*) cat "$RVFIO_ROOT/qemu-test/kernel.config" "$RVFIO_ROOT/qemu-test/kernel-$1.config" ;;
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
		  [ -z "$flags" ] || { echo "$flags"; "$(kernel_cc "$flavour")" --version | head -1; }
		} | sha256sum | cut -c1-12)
	echo "$RVFIO_CACHE/build/$KERNEL_VERSION-$flavour-$hash"
}

# kernel_image DIR: the bootable kernel of a kernel_build_dir.
kernel_image() {
	if [ -f "$1/.rvfio-distro" ]; then
		echo "$1/modroot/lib/modules/$(cat "$1/.rvfio-distro")/vmlinuz"
	elif grep -qx 'CONFIG_ARM64=y' "$1/.config" 2>/dev/null; then
		echo "$1/arch/arm64/boot/Image"
	else
		echo "$1/arch/x86/boot/bzImage"
	fi
}
