# SPDX-License-Identifier: GPL-2.0
# make install and make uninstall on a distribution kernel (scripts/install.sh), as a host's
# user runs them, with kmod's depmod, modprobe and modinfo: rvfio's signed modules (signed
# at build time with a throwaway key through the same script: qemu-test/distro.sh) replace
# the kernel's VFIO for modprobe (type1 included, through vfio.ko's soft dependency, as
# upstream), the kernel's vfio_pci_core cannot load beside them, a device binds and works,
# and uninstall gives the kernel's own VFIO back. Distribution kernels only
# (their initramfs carries the kernel's VFIO modules at their installed paths and kmod).
. /guest/lib.sh

kver=$(uname -r)
moddir=/lib/modules/$kver
signed=/lib/modules/signed
# kmod's tools by path: busybox's sh runs its own applets of those names before PATH's.
depmod=/usr/sbin/depmod modprobe=/usr/sbin/modprobe modinfo=/usr/sbin/modinfo
export DEPMOD=$depmod MODINFO=$modinfo
[ -x /usr/sbin/modprobe ] || fail "no kmod in this guest (only a distribution kernel's initramfs has it)"
[ -d $moddir/kernel/drivers/vfio ] || fail "no $moddir/kernel/drivers/vfio (not a distribution kernel?)"
edu=$(bdf_of $EDU_ID) || fail "no edu device"

# stack_loaded [MODULE]: whose MODULE (default vfio) is loaded (rvfio's modules are out of
# tree: taint O).
stack_loaded() {
	local m=${1:-vfio}
	module_loaded $m || { echo none; return; }
	case $(cat /sys/module/$m/taint) in
	*O*) echo rvfio ;;	# out of tree
	*) echo distribution ;;
	esac
}
unload_all() {
	$modprobe -r vfio-pci || fail "modprobe -r vfio-pci"
	$modprobe -r vfio_iommu_type1 vfio 2>/dev/null
	module_loaded vfio && fail "vfio still loaded after modprobe -r"
	return 0
}

$depmod "$kver" || fail "depmod"
$modprobe vfio-pci || fail "modprobe vfio-pci (before install)"
[ "$(stack_loaded)" = distribution ] || fail "before install, modprobe loaded $(stack_loaded)"
module_loaded vfio_pci_core || fail "the distribution's vfio-pci came without vfio_pci_core"
[ "$(stack_loaded vfio_iommu_type1)" = distribution ] ||
	fail "before install, vfio_iommu_type1: $(stack_loaded vfio_iommu_type1)"
unload_all
echo "before install: modprobe vfio-pci loads the distribution's VFIO"

KVER=$kver sh /tests/scripts/install.sh install $signed || fail "install.sh install"
installed=$moddir/updates/rvfio
for ko in vfio.ko vfio_iommu_type1.ko vfio-pci.ko; do
	[ -f $installed/$ko ] || fail "$installed/$ko not installed"
	# The appended signature: its trailer, and the signer kmod decodes from it.
	[ "$(tail -c 28 $installed/$ko)" = "~Module signature appended~" ] || fail "$ko: not signed"
	[ "$($modinfo -F signer $installed/$ko)" = "rvfio throwaway test key" ] ||
		fail "$ko: signer '$($modinfo -F signer $installed/$ko)'"
	cmp -s $installed/$ko $signed/$ko || fail "$ko: installed file differs from the signed one"
done
signer="rvfio throwaway test key"
$modprobe -D vfio-pci >/tmp/install-deps.out || fail "modprobe -D vfio-pci"
grep -qx "insmod $installed/vfio-pci.ko *" /tmp/install-deps.out &&
	grep -qx "insmod $installed/vfio.ko *" /tmp/install-deps.out ||
	{ cat /tmp/install-deps.out; fail "modprobe vfio-pci does not resolve to rvfio's modules"; }
$modprobe -D vfio_iommu_type1 >/tmp/install-deps.out || fail "modprobe -D vfio_iommu_type1"
grep -qx "insmod $installed/vfio_iommu_type1.ko *" /tmp/install-deps.out ||
	{ cat /tmp/install-deps.out; fail "modprobe vfio_iommu_type1 does not resolve to rvfio's"; }
$modprobe vfio-pci || fail "modprobe vfio-pci (rvfio installed)"
[ "$(stack_loaded)" = rvfio ] || fail "after install, modprobe loaded $(stack_loaded)"
[ "$(stack_loaded vfio_iommu_type1)" = rvfio ] ||
	fail "after install, vfio_iommu_type1: $(stack_loaded vfio_iommu_type1) (vfio.ko's softdep)"
module_loaded vfio_pci_core && fail "rvfio installed, yet vfio_pci_core loaded"
$modprobe vfio_pci_core 2>/dev/null && fail "modprobe vfio_pci_core succeeded beside rvfio"
module_loaded vfio_pci_core && fail "vfio_pci_core loaded beside rvfio"
echo "installed: modprobe vfio-pci loads rvfio's vfio, vfio_iommu_type1 and vfio-pci (signed by '$signer'), vfio_pci_core is refused"

# A user's bind, by driver_override, and the group node it makes.
bind_driver $edu vfio-pci || fail "bind $edu to rvfio's vfio-pci"
group=$(basename "$(readlink /sys/bus/pci/devices/$edu/iommu_group)")
[ -c /dev/vfio/$group ] || fail "no /dev/vfio/$group for $edu"
# The edu's DMA engine through the IOMMU, on the installed stack.
RVFIO_EDU_BDF=$edu RVFIO_STACK=rvfio /tests/c/edu_dma_test >/tmp/install-edu.out 2>&1 ||
	{ cat /tmp/install-edu.out; fail "edu_dma_test on the installed rvfio"; }
grep '^# Totals' /tmp/install-edu.out
unbind_driver $edu
echo "installed: $edu bound to rvfio's vfio-pci, /dev/vfio/$group, edu_dma_test passed"
unload_all

KVER=$kver sh /tests/scripts/install.sh uninstall || fail "install.sh uninstall"
[ -e $installed ] && fail "$installed left behind"
[ -e /etc/modprobe.d/rvfio.conf ] && fail "/etc/modprobe.d/rvfio.conf left behind"
$modprobe vfio-pci || fail "modprobe vfio-pci (after uninstall)"
[ "$(stack_loaded)" = distribution ] || fail "after uninstall, modprobe loaded $(stack_loaded)"
unload_all
echo "uninstalled: modprobe vfio-pci loads the distribution's VFIO again"
