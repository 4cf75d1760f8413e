#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install everything rvfio needs on a fresh Debian 12 machine, idempotently:
# Debian packages, QEMU >= 8 (for igb), rust-src, bindgen-cli, and the 7.3 kernel source.
# Building the test kernel is qemu-test/build-kernel.sh's job.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

APT_DIR=$RVFIO_CACHE/apt
# A private apt configuration: our own source list and package lists, so the system's
# sources are never changed and nothing already installed is upgraded.
apt_private() {
	local cmd=$1; shift
	"$cmd" -o Dir::Etc::sourcelist="$APT_DIR/sources.list" -o Dir::Etc::sourceparts=- \
		-o Dir::State::Lists="$APT_DIR/lists" -o Dir::Cache="$APT_DIR/cache" \
		-o APT::Sandbox::User=root -o Debug::NoLocking=0 "$@"
}

apt_update_private() {
	mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
	cat > "$APT_DIR/sources.list" <<LIST
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
deb http://deb.debian.org/debian bookworm-backports main
deb http://deb.debian.org/debian trixie-backports main
LIST
	# Refresh at most once a day.
	if [ -z "$(find "$APT_DIR/lists" -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]; then
		log "apt-get update (private source list)"
		apt_private apt-get -qq update
	fi
}

# Packages from bookworm itself; the base system already has rustup's toolchain and gcc.
# bash-static runs the kernel's VFIO kselftest scripts (bash) in the guest; uuid-dev is the
# static libuuid those kselftests link.
DEB_PACKAGES=(bc bison flex libelf-dev libssl-dev cpio xz-utils kmod make gcc
	busybox-static bash-static uuid-dev "libclang-$LLVM_VERSION-dev" "clang-$LLVM_VERSION"
	python3 file rsync)

install_packages() {
	local missing=() p
	for p in "${DEB_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if ! qemu-system-x86_64 -device help 2>/dev/null | grep -q '"igb"'; then
		# bookworm's QEMU 7.2 has no igb; take 10.0 from bookworm-backports. Only the
		# packages named here come from backports; everything else stays bookworm's.
		missing+=(qemu-system-x86/bookworm-backports qemu-system-common/bookworm-backports
			qemu-system-data/bookworm-backports seabios/bookworm-backports)
	fi
	[ ${#missing[@]} -eq 0 ] && return
	apt_update_private
	log "installing: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt_private apt-get -y -qq \
		-o APT::Default-Release=bookworm --no-install-recommends install "${missing[@]}" >/dev/null
	qemu-system-x86_64 -device help | grep -q '"igb"' || die "installed QEMU has no igb device"
}

install_rust_bits() {
	rustup component list --installed | grep -q '^rust-src' || { log "rustup component add rust-src"; rustup component add rust-src; }
	if [ ! -x "$BINDGEN_ROOT/bin/bindgen" ]; then
		log "cargo install bindgen-cli $BINDGEN_VERSION"
		cargo install --quiet --locked bindgen-cli --version "$BINDGEN_VERSION" --root "$BINDGEN_ROOT"
	fi
}

# Debian's linux-source-7.3 lives in trixie-backports: download the .deb (never install it)
# and unpack the tarball it carries.
fetch_kernel_source() {
	[ -f "$KSRC/.rvfio-unpacked" ] && return
	apt_update_private
	local deb_dir=$RVFIO_CACHE/debs
	mkdir -p "$deb_dir" "$RVFIO_CACHE/src"
	if ! ls "$deb_dir"/${KERNEL_PKG}_*.deb >/dev/null 2>&1; then
		log "downloading $KERNEL_PKG"
		(cd "$deb_dir" && apt_private apt-get -qq download "$KERNEL_PKG")
	fi
	log "unpacking $KERNEL_PKG"
	rm -rf "$KSRC" "$RVFIO_CACHE/src/deb"
	mkdir -p "$RVFIO_CACHE/src/deb"
	dpkg-deb -x "$deb_dir"/${KERNEL_PKG}_*.deb "$RVFIO_CACHE/src/deb"
	tar -C "$RVFIO_CACHE/src" -xf "$RVFIO_CACHE/src/deb/usr/src/$KERNEL_PKG.tar.xz"
	rm -rf "$RVFIO_CACHE/src/deb"
	[ -f "$KSRC/Makefile" ] || die "kernel source not found at $KSRC"
	touch "$KSRC/.rvfio-unpacked"
}

case ${1:-} in
# setup.sh apt-download DIR PACKAGE[=VERSION]...: .debs into DIR, never installed
# (Debian's kernels for qemu-test/distro.sh).
apt-download)
	dir=$2
	shift 2
	apt_update_private
	mkdir -p "$dir"
	(cd "$dir" && apt_private apt-get -qq download "$@")
	exit 0
	;;
# setup.sh install PACKAGE...: more Debian packages, for scripts that need them only
# sometimes (distro.sh: mmdebstrap).
install)
	shift
	DEB_PACKAGES+=("$@")
	install_packages
	exit 0
	;;
esac
install_packages
install_rust_bits
fetch_kernel_source
log "set-up complete (cache: $RVFIO_CACHE)"
