# SPDX-License-Identifier: GPL-2.0
# with-rvfio.sh COMMAND...: load rvfio, bind the test devices to vfio-pci, run COMMAND,
# then restore the baseline. Exit status is COMMAND's (or 1 if set-up/tear-down failed).
. /guest/lib.sh
load_rvfio
edu=$(bdf_of $EDU_ID) || fail "no edu device"
igb=$(bdf_of $IGB_ID) || fail "no igb device"
bind_driver "$edu" vfio-pci
bind_driver "$igb" vfio-pci
export RVFIO_EDU_BDF=$edu RVFIO_IGB_BDF=$igb
"$@"
rc=$?
unbind_driver "$edu"
unbind_driver "$igb"
unload_rvfio
exit $rc
