# SPDX-License-Identifier: GPL-2.0
# with_ivshmem.sh COMMAND...: run inside with-vfio.sh (a VFIO stack loaded, edu and igb on
# vfio-pci); also binds ivshmem-plain (no kernel driver: its 1 GiB BAR2 and 256-byte BAR0)
# to vfio-pci, exports RVFIO_IVSHMEM_BDF, runs COMMAND and unbinds it again. Exit status is
# COMMAND's (1 if the device could not be bound).
. /guest/lib.sh
ivshmem=$(bdf_of $IVSHMEM_ID) || fail "no ivshmem device ($IVSHMEM_ID)"
bind_driver "$ivshmem" vfio-pci
export RVFIO_IVSHMEM_BDF=$ivshmem
"$@"
rc=$?
unbind_driver "$ivshmem"
exit $rc
