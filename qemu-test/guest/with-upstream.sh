# SPDX-License-Identifier: GPL-2.0
# with-upstream.sh COMMAND...: like with-rvfio.sh, on upstream's VFIO modules, so the same
# uAPI test can be run against both stacks in one boot.
. /guest/lib.sh
load_upstream
edu=$(bdf_of $EDU_ID) || fail "no edu device"
igb=$(bdf_of $IGB_ID) || fail "no igb device"
bind_driver "$edu" vfio-pci
bind_driver "$igb" vfio-pci
export RVFIO_EDU_BDF=$edu RVFIO_IGB_BDF=$igb
"$@"
rc=$?
unbind_driver "$edu"
unbind_driver "$igb"
unload_upstream
exit $rc
