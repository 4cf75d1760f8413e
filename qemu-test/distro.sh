#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Debian's stock 7.3.4 kernels (trixie-backports): rvfio built for them with Debian's own
# kernel toolchain, and the kernels themselves unpacked for the guest. Everything is
# cached under $RVFIO_CACHE/debian; nothing is installed on this machine.
#
#   distro.sh modules [FLAVOUR]   build rvfio's three modules for the kernel into
#                                 $RVFIO_CACHE/debian/out-FLAVOUR (printed)
#   distro.sh tree [FLAVOUR]      prepare the module build tree (printed)
#   distro.sh root [FLAVOUR]      unpack the kernel and its modules (printed)
#   distro.sh guest [FLAVOUR]     modules, plus the kernel laid out for the guest scripts
#                                 (run-guest.sh, mkinitramfs.sh): printed
#   distro.sh toolchain           make the toolchain chroot (printed)
#   distro.sh shell [FLAVOUR]     a shell in the toolchain chroot, in the repository
#
# FLAVOUR: amd64 (default) or rt-amd64 (PREEMPT_RT). RVFIO_JOBS: make's -j for the tree.
#
# Why a chroot: an out-of-tree Rust module links against the Rust crates the kernel was
# built with, and every exported Rust symbol carries a hash of the rustc build, so only
# Debian's own rustc (1.85.1 in trixie) can build modules for Debian's kernel. The chroot
# is trixie with exactly the tools the kernel's .config names (rustc, bindgen, gcc-14);
# this script refuses to go on if any version string differs. Debian's headers package
# lacks the Rust metadata (rust/*.rmeta, libmacros.so, scripts/target.json), so the tree
# is made from the matching linux-source-7.3 with Debian's .config by `make
# modules_prepare` (which builds rust/ but not vmlinux), plus Debian's Module.symvers and
# its BTF-only vmlinux (for module BTF).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DEBIAN_DIR=$RVFIO_CACHE/debian
DEBIAN_ABI=7.3.4+deb13
DEBIAN_PKG_VERSION=7.3.4-1~bpo13+1
TOOLCHAIN=$DEBIAN_DIR/toolchain-trixie
# What the chroot holds: Debian's kernel build dependencies for Rust, C and BTF.
TOOLCHAIN_PACKAGES=(rustc rust-src bindgen gcc gcc-14 libclang-19-dev binutils make bc flex
	bison libelf-dev libssl-dev openssl kmod python3 cpio xz-utils rsync file dwarves)

cmd=${1:?usage: distro.sh modules|tree|root|toolchain|shell [amd64|rt-amd64]}
flavour=${2:-amd64}
case $flavour in
amd64 | rt-amd64) ;;
*) die "flavour must be amd64 or rt-amd64, not '$flavour'" ;;
esac
release=$DEBIAN_ABI-$flavour

# debs NAME...: downloads the named packages of Debian's kernel (never installs them).
debs() {
	local p missing=()
	mkdir -p "$DEBIAN_DIR/debs"
	for p in "$@"; do
		ls "$DEBIAN_DIR/debs/${p}_${DEBIAN_PKG_VERSION}"_*.deb >/dev/null 2>&1 || missing+=("$p=$DEBIAN_PKG_VERSION")
	done
	[ ${#missing[@]} -eq 0 ] && return
	"$RVFIO_ROOT/qemu-test/setup.sh" apt-download "$DEBIAN_DIR/debs" "${missing[@]}"
}

# unpack DIR PACKAGE...: the packages' files under DIR (once).
unpack() {
	local dir=$1 p
	shift
	[ -f "$dir/.rvfio-unpacked" ] && return
	debs "$@"
	rm -rf "$dir"
	mkdir -p "$dir"
	for p in "$@"; do
		dpkg-deb -x "$DEBIAN_DIR/debs/${p}_${DEBIAN_PKG_VERSION}"_*.deb "$dir"
	done
	touch "$dir/.rvfio-unpacked"
}

headers_dir() {
	unpack "$DEBIAN_DIR/headers-$flavour" "linux-headers-$release" "linux-headers-$DEBIAN_ABI-common"
	echo "$DEBIAN_DIR/headers-$flavour/usr/src/linux-headers-$release"
}

# The kernel (vmlinuz) and its modules, as the two packages ship them.
kernel_root() {
	unpack "$DEBIAN_DIR/root-$flavour" "linux-binary-$release" "linux-modules-$release"
	echo "$DEBIAN_DIR/root-$flavour"
}

make_toolchain() {
	if [ ! -f "$TOOLCHAIN/.rvfio-done" ]; then
		command -v mmdebstrap >/dev/null || "$RVFIO_ROOT/qemu-test/setup.sh" install mmdebstrap
		log "making the trixie toolchain chroot (about 1 minute, 1.7 GB)"
		rm -rf "$TOOLCHAIN"
		local list
		list=$(IFS=,; echo "${TOOLCHAIN_PACKAGES[*]}")
		mmdebstrap --quiet --variant=minbase --include="$list" trixie "$TOOLCHAIN" \
			http://deb.debian.org/debian >&2
		touch "$TOOLCHAIN/.rvfio-done"
	fi
	echo "$TOOLCHAIN"
}

# in_chroot DIR CMD...: CMD in the toolchain chroot, in DIR, with the cache and the
# repository at their own paths, in a mount namespace of its own (nothing stays mounted).
in_chroot() {
	local dir=$1
	shift
	unshare --mount --propagation private -- /bin/sh -c '
		root=$1 cache=$2 repo=$3 dir=$4
		shift 4
		for m in "$cache" "$repo"; do
			mkdir -p "$root$m" && mount --bind "$m" "$root$m" || exit 1
		done
		mount -t proc proc "$root/proc"
		mount --bind /dev "$root/dev"
		exec chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
			LIBCLANG_PATH=/usr/lib/llvm-19/lib sh -c "cd \"\$0\" && exec \"\$@\"" "$dir" "$@"
	' sh "$TOOLCHAIN" "$RVFIO_CACHE" "$RVFIO_ROOT" "$dir" "$@"
}

# The kernel's make variables for this tree: Debian's cross prefix and compiler, and the
# release suffix.
kmake_vars() {
	echo "ARCH=x86 CROSS_COMPILE=x86_64-linux-gnu- CC=x86_64-linux-gnu-gcc-14 HOSTCC=gcc-14 LOCALVERSION=+deb13-$flavour"
}

# Refuses a toolchain whose version strings differ from what the kernel was built with.
check_toolchain() {
	local config=$1 name want got tool
	for name in RUSTC BINDGEN CC; do
		want=$(sed -n "s/^CONFIG_${name}_VERSION_TEXT=\"\(.*\)\"$/\1/p" "$config")
		case $name in
		RUSTC) tool="rustc --version" ;;
		BINDGEN) tool="bindgen --version" ;;
		CC) tool="x86_64-linux-gnu-gcc-14 --version" ;;
		esac
		got=$(in_chroot / $tool 2>/dev/null | head -1)
		[ "$got" = "$want" ] ||
			die "toolchain mismatch: the kernel was built with '$want' ($name), the chroot has '$got'"
	done
}

prepare_tree() {
	local headers tree=$DEBIAN_DIR/tree-$flavour
	headers=$(headers_dir)
	make_toolchain >/dev/null
	if [ ! -f "$tree/.rvfio-prepared" ]; then
		check_toolchain "$headers/.config"
		[ -f "$KSRC/Makefile" ] || "$RVFIO_ROOT/qemu-test/setup.sh" >&2
		log "preparing the module build tree for $release (about 2 minutes)"
		rm -rf "$tree"
		mkdir -p "$tree"
		cp "$headers/.config" "$tree/.config"
		# shellcheck disable=SC2046
		in_chroot "$KSRC" make -s O="$tree" $(kmake_vars) olddefconfig >&2
		cmp -s "$headers/.config" "$tree/.config" ||
			die "olddefconfig changed Debian's .config: the source does not match the kernel"
		# shellcheck disable=SC2046
		in_chroot "$KSRC" make -s O="$tree" $(kmake_vars) -j"${RVFIO_JOBS:-$(nproc)}" modules_prepare >&2
		cp "$headers/Module.symvers" "$headers/vmlinux" "$tree/"
		touch "$tree/.rvfio-prepared"
	fi
	echo "$tree"
}

build_modules() {
	local tree src=$DEBIAN_DIR/src-$flavour out=$DEBIAN_DIR/out-$flavour
	tree=$(prepare_tree)
	log "building rvfio for $release with Debian's toolchain"
	# The repository's own build, in the chroot, on a copy of the sources (the work tree's
	# objects are the test kernel's).
	mkdir -p "$src/selftests"
	rsync -a --delete --exclude=.git --exclude=/selftests --exclude=/generated \
		--exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' "$RVFIO_ROOT/" "$src/"
	rsync -a --delete --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' \
		"$RVFIO_ROOT/selftests/kmod" "$src/selftests/"
	in_chroot "$src" make -s KDIR="$tree" KCC=x86_64-linux-gnu-gcc-14 modules test-modules \
		>"$DEBIAN_DIR/build-$flavour.log" 2>&1 || {
		cat "$DEBIAN_DIR/build-$flavour.log" >&2
		die "module build for $release failed"
	}
	if grep -E '^(warning|error)' "$DEBIAN_DIR/build-$flavour.log" >/dev/null; then
		cat "$DEBIAN_DIR/build-$flavour.log" >&2
		die "module build for $release has warnings (rustc must be clean)"
	fi
	rm -rf "$out"
	mkdir -p "$out"
	cp "$src"/vfio.ko "$src"/vfio_iommu_type1.ko "$src"/vfio-pci.ko "$src"/selftests/kmod/*.ko "$out/"
	modinfo -F vermagic "$out/vfio.ko" | grep -q "^$release " ||
		die "vfio.ko's vermagic is not $release: $(modinfo -F vermagic "$out/vfio.ko")"
	echo "$out"
}

# The guest's view of this kernel, in $DEBIAN_DIR/guest-FLAVOUR: its vmlinuz, its modules
# under modroot/lib/modules/RELEASE with a modules.dep (the packages ship none: depmod makes
# it at installation), rvfio's modules built for it in rvfio/, and the marker files that
# run-guest.sh and mkinitramfs.sh read (.rvfio-built, .rvfio-distro: the release).
guest_dir() {
	local root out guest=$DEBIAN_DIR/guest-$flavour
	out=$(build_modules)
	root=$(kernel_root)
	if [ ! -f "$guest/.rvfio-built" ]; then
		rm -rf "$guest"
		mkdir -p "$guest/modroot/lib/modules"
		# Hard links: the unpacked package stays as it is, nothing is copied.
		cp -al "$root/usr/lib/modules/$release" "$guest/modroot/lib/modules/"
		# depmod wants these; Debian's packages have none to give (all is in modules.dep).
		touch "$guest/modroot/lib/modules/$release"/modules.{order,builtin,builtin.modinfo}
		depmod -b "$guest/modroot" "$release"
		echo "$release" >"$guest/.rvfio-distro"
		touch "$guest/.rvfio-built"
	fi
	cp "$DEBIAN_DIR/tree-$flavour/.config" "$guest/.config"
	rm -rf "$guest/rvfio"
	cp -r "$out" "$guest/rvfio"
	sign_for_guest "$guest"
	echo "$guest"
}

# sign_for_guest DIR: `make install` with signing, as a Secure Boot host's user runs it
# (scripts/install.sh, Debian's sign-file, Debian's kmod), into a scratch root in the
# chroot, with a throwaway key made for it: its signed modules and certificate go to
# DIR/signed for the guest's install test (selftests/sh/install_distro.sh).
sign_for_guest() {
	local dir=$1 tree=$DEBIAN_DIR/tree-$flavour scratch=$DEBIAN_DIR/install-$flavour
	rm -rf "$scratch"
	mkdir -p "$scratch/lib/modules/$release"
	touch "$scratch/lib/modules/$release"/modules.{order,builtin,builtin.modinfo}
	cp -al "$DEBIAN_DIR/root-$flavour/usr/lib/modules/$release/kernel" "$scratch/lib/modules/$release/"
	in_chroot "$scratch" openssl req -new -x509 -newkey rsa:2048 -nodes -days 2 -batch \
		-subj "/CN=rvfio throwaway test key/" -keyout key.pem -out cert.pem 2>/dev/null ||
		die "openssl could not make the throwaway signing key"
	in_chroot "$scratch" env PATH=/usr/sbin:/usr/bin:/sbin:/bin DESTDIR="$scratch" KVER="$release" SIGN_KEY=key.pem \
		SIGN_CERT=cert.pem SIGN_FILE="$tree/scripts/sign-file" \
		sh "$RVFIO_ROOT/scripts/install.sh" install "$dir/rvfio" >&2
	rm -rf "$dir/signed"
	mkdir -p "$dir/signed"
	cp "$scratch/lib/modules/$release/updates/rvfio/"*.ko "$scratch/cert.pem" "$dir/signed/"
	local ko signer
	for ko in "$dir"/signed/*.ko; do
		signer=$(modinfo -F signer "$ko")
		[ "$signer" = "rvfio throwaway test key" ] || die "$ko: signer '$signer'"
		[ "$(modinfo -F sig_hashalgo "$ko")" = sha256 ] || die "$ko: not signed with sha256"
	done
	rm -rf "$scratch"
}

case $cmd in
modules) build_modules ;;
guest) guest_dir ;;
tree) prepare_tree ;;
root) kernel_root ;;
toolchain) make_toolchain ;;
shell) prepare_tree >/dev/null && in_chroot "$DEBIAN_DIR/src-$flavour" bash ;;
*) die "unknown command '$cmd'" ;;
esac
