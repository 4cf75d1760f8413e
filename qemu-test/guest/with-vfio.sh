# SPDX-License-Identifier: GPL-2.0
# with-vfio.sh rvfio|upstream COMMAND...: load that VFIO stack, bind the test devices to
# vfio-pci, run COMMAND, then restore the baseline. The same uAPI test thus runs against
# both stacks in one boot; RVFIO_STACK tells which. Exit status is COMMAND's (or 1 if
# set-up/tear-down failed).
. /guest/lib.sh
stack=$1
shift
case $stack in
rvfio) load_rvfio ;;
upstream) load_upstream ;;
*) fail "unknown stack '$stack'" ;;
esac
edu=$(bdf_of $EDU_ID) || fail "no edu device"
igb=$(bdf_of $IGB_ID) || fail "no igb device"
bind_driver "$edu" vfio-pci
bind_driver "$igb" vfio-pci
export RVFIO_EDU_BDF=$edu RVFIO_IGB_BDF=$igb RVFIO_STACK=$stack
"$@"
rc=$?
unbind_driver "$edu"
unbind_driver "$igb"
unload_$stack
exit $rc
