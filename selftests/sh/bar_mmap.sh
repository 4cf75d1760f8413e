# SPDX-License-Identifier: GPL-2.0
# bar_mmap.sh rvfio|upstream: c/bar_mmap_test on ivshmem-plain (a 1 GiB BAR and a sub-page
# one) and edu (its DMA engine), both bound to vfio-pci on that stack; then the devices
# back where they were.
. /guest/lib.sh
stack=$1
case $stack in rvfio | upstream) ;; *) fail "unknown stack '$stack'" ;; esac
ivshmem=$(bdf_of $IVSHMEM_ID) || fail "no ivshmem device ($IVSHMEM_ID)"
edu=$(bdf_of $EDU_ID) || fail "no edu device"
load_$stack
bind_driver "$ivshmem" vfio-pci
bind_driver "$edu" vfio-pci
RVFIO_IVSHMEM_BDF=$ivshmem RVFIO_EDU_BDF=$edu RVFIO_STACK=$stack /tests/c/bar_mmap_test
rc=$?
unbind_driver "$ivshmem"
unbind_driver "$edu"
unload_$stack
exit $rc
