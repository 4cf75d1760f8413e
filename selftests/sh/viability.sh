# SPDX-License-Identifier: GPL-2.0
# viability.sh rvfio|upstream: group viability (c/viability_test.c) on that stack, with the
# multifunction device of the guest: edu (function 0) and nvme (function 1) share one IOMMU
# group. The edu function is bound to vfio-pci; the nvme function starts, and must end, on
# the kernel's nvme driver.
. /guest/lib.sh

stack=$1
case $stack in
rvfio | upstream) load_$stack ;;
*) fail "usage: viability.sh rvfio|upstream" ;;
esac
# The nvme at function 1 and the edu beside it at function 0 of the same slot.
mf_nvme=
for d in /sys/bus/pci/devices/*.1; do
	[ "$(cat $d/vendor):$(cat $d/device)" = "0x${NVME_ID%%:*}:0x${NVME_ID##*:}" ] &&
		mf_nvme=$(basename $d)
done
[ -n "$mf_nvme" ] || fail "no nvme at function 1 (multifunction device missing)"
mf_edu=${mf_nvme%.1}.0
[ "$(current_driver $mf_nvme)" = nvme ] || fail "$mf_nvme starts on $(current_driver $mf_nvme), not nvme"
bind_driver "$mf_edu" vfio-pci
RVFIO_MF_EDU_BDF=$mf_edu RVFIO_MF_NVME_BDF=$mf_nvme /tests/c/viability_test
rc=$?
unbind_driver "$mf_edu"
[ "$(current_driver $mf_nvme)" = nvme ] || bind_driver "$mf_nvme" nvme
echo > /sys/bus/pci/devices/$mf_nvme/driver_override
unload_$stack
exit $rc
