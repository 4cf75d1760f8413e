# SPDX-License-Identifier: GPL-2.0
# The main job: load rvfio, hand the edu device to vfio-pci and let a userspace program
# find it and talk to the VFIO container, as a VFIO application would.
. /guest/lib.sh

echo "== loading rvfio (vfio.ko, vfio-pci.ko)"
load_rvfio
cat /proc/misc | grep -w vfio
ls -l /dev/vfio/

edu=$(bdf_of $EDU_ID) || fail "no edu device"
echo "== binding edu ($edu, IOMMU group $(iommu_group $edu)) to vfio-pci"
bind_driver "$edu" vfio-pci
echo "$edu is now driven by: $(current_driver $edu)"
dmesg | grep -E "vfio|$edu" | tail -3

echo "== userspace: module checks, device discovery, group viability, container queries, group attach"
/tests/rust/vfio_discovery "$edu"
rc=$?

unbind_driver "$edu"
unload_rvfio
check_dmesg_clean
[ $rc -eq 0 ] && echo "== demo OK" || echo "== demo FAILED"
exit $rc
