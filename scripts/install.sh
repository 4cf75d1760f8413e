#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Install rvfio in place of the distribution's VFIO, or take it out again (make install,
# make uninstall). POSIX sh, so that the test guest's busybox runs the very same script.
#
#   install.sh install DIR     rvfio's modules of DIR (signed first if SIGN_KEY is
#                              set) into /lib/modules/$KVER/updates/rvfio/, the modprobe
#                              configuration into /etc/modprobe.d/rvfio.conf, then depmod
#   install.sh uninstall       removes both and runs depmod: the distribution's VFIO is back
#
# KVER: the kernel release (default: the running kernel's). DESTDIR: a root to install under
# (depmod then runs on that root). SIGN_KEY, SIGN_CERT: a private key and its X.509
# certificate (PEM) to sign the modules with, for hosts whose kernel enforces module
# signatures (Secure Boot); the certificate must be trusted by that kernel (enrolled as a
# MOK, e.g. `mokutil --import`). SIGN_FILE: the kernel's scripts/sign-file (default: the
# one of /lib/modules/$KVER/build, else of $KDIR). DEPMOD, MODINFO: kmod's tools (default:
# depmod and modinfo of PATH; a busybox sh prefers its own applets to PATH).
#
# Why updates/: depmod ranks updates/ above the kernel's own directory for a module of the
# same name (its default search order), so `modprobe vfio-pci` loads rvfio's vfio-pci.ko
# and, through its dependency, rvfio's vfio.ko, whose soft dependency brings rvfio's
# vfio_iommu_type1.ko along (as upstream's vfio.ko does its own). The distribution's
# modules stay on disk, untouched. What needs the distribution's vfio.ko (vfio-pci-core and
# the variant drivers on it, mdev) cannot work beside rvfio's: rvfio.conf stops modprobe
# from loading them (an "install" line that fails, so the failure is visible, not silent).
set -eu

die() { echo "install.sh: $*" >&2; exit 1; }

KVER=${KVER:-$(uname -r)}
DEPMOD=${DEPMOD:-depmod}
MODINFO=${MODINFO:-modinfo}
DESTDIR=${DESTDIR:-}
moddir=$DESTDIR/lib/modules/$KVER
target=$moddir/updates/rvfio
conf=$DESTDIR/etc/modprobe.d/rvfio.conf

# rvfio's modules, and the distribution modules that link against its own vfio.ko.
MODULES="vfio.ko vfio_iommu_type1.ko vfio-pci.ko"
BLOCKED="vfio_pci_core vfio_iommu_spapr_tce mdev vfio_mdev
	mlx5_vfio_pci hisi_acc_vfio_pci pds_vfio_pci virtio_vfio_pci nvgrace_gpu_vfio_pci
	qat_vfio_pci xe_vfio_pci vfio_platform vfio_fsl_mc vfio_cdx kvmgt"

run_depmod() {
	if [ -n "$DESTDIR" ]; then
		"$DEPMOD" -b "$DESTDIR" "$KVER"
	else
		"$DEPMOD" "$KVER"
	fi
}

install_rvfio() {
	src=$1
	[ -d "$moddir/kernel" ] || die "no $moddir/kernel: is $KVER installed? (KVER=...)"
	for ko in $MODULES; do
		[ -f "$src/$ko" ] || die "no $src/$ko (build it first)"
		vermagic=$("$MODINFO" -F vermagic "$src/$ko")
		case $vermagic in
		"$KVER "*) ;;
		*) die "$src/$ko was built for '${vermagic%% *}', not $KVER" ;;
		esac
	done
	mkdir -p "$target" "$(dirname "$conf")"
	for ko in $MODULES; do
		cp "$src/$ko" "$target/$ko.tmp"
		if [ -n "${SIGN_KEY:-}" ]; then
			[ -n "${SIGN_CERT:-}" ] || die "SIGN_KEY needs SIGN_CERT"
			sign=${SIGN_FILE:-}
			[ -n "$sign" ] || for sign in "/lib/modules/$KVER/build/scripts/sign-file" \
				"${KDIR:-/nonexistent}/scripts/sign-file" ""; do
				[ -z "$sign" ] || [ ! -x "$sign" ] || break
			done
			[ -n "$sign" ] || die "no scripts/sign-file (SIGN_FILE=...)"
			"$sign" sha256 "$SIGN_KEY" "$SIGN_CERT" "$target/$ko.tmp"
		fi
		mv "$target/$ko.tmp" "$target/$ko"
	done
	{
		echo "# rvfio (a Rust VFIO) stands in for this kernel's vfio, vfio_iommu_type1 and vfio-pci:"
		echo "# installed by rvfio's make install into $target, removed by make uninstall."
		echo "# These modules need the kernel's own vfio.ko, which rvfio's replaces: not loaded."
		for m in $BLOCKED; do
			echo "install $m /bin/false"
		done
	} >"$conf"
	run_depmod
	echo "rvfio installed for $KVER: $target ($(ls "$target" | tr '\n' ' ')), $conf"
}

uninstall_rvfio() {
	rm -rf "$target"
	rmdir "$moddir/updates" 2>/dev/null || true
	rm -f "$conf"
	run_depmod
	echo "rvfio removed for $KVER: modprobe loads the kernel's own VFIO again"
}

case ${1:-} in
install) install_rvfio "${2:?install.sh install DIR}" ;;
uninstall) uninstall_rvfio ;;
*) die "usage: install.sh install DIR | uninstall" ;;
esac
