# SPDX-License-Identifier: GPL-2.0
# pci_params.sh rvfio|upstream: vfio-pci's module parameters as upstream's.
# - ids=: edu binds at load, without driver_override or new_id; a malformed entry is skipped
#   with upstream's warning.
# - /sys/module/vfio_pci/parameters: the same names and permissions (ids not shown), values,
#   the writable ones writable.
# - nointxmask=1: INTx masked at the interrupt chip instead of with COMMAND.INTX_DISABLE; the
#   edu INTx tests of pci_device_test pass that way (RVFIO_NOINTXMASK tells them).
. /guest/lib.sh
stack=$1
case $stack in rvfio | upstream) ;; *) fail "unknown stack '$stack'" ;; esac
edu=$(bdf_of $EDU_ID) || fail "no edu device"
[ "$(current_driver "$edu")" = none ] || fail "edu starts bound"

RVFIO_PCI_PARAMS="ids=1234:11e8,nonsense"
load_$stack
RVFIO_PCI_PARAMS=
[ "$(current_driver "$edu")" = vfio-pci ] || fail "ids= did not bind edu (bound: $(current_driver "$edu"))"
dmesg | grep -q 'vfio_pci: invalid id string "nonsense"' || fail "no warning for a malformed id"
dmesg | grep -q 'vfio_pci: add \[1234:11e8\[ffffffff:ffffffff\]\]' || fail "no log of the added id"
dir=/sys/module/vfio_pci/parameters
names=$(ls $dir | tr '\n' ' ')
# disable_vga exists where the kernel has VGA support for vfio-pci (Debian's), as upstream's.
want="disable_denylist disable_idle_d3 enable_sriov nointxmask "
kconfig VFIO_PCI_VGA && want="disable_denylist disable_idle_d3 disable_vga enable_sriov nointxmask "
[ "$names" = "$want" ] || fail "parameters: '$names', want '$want'"
if kconfig VFIO_PCI_VGA; then
	[ "$(stat -c %a $dir/disable_vga)" = 444 ] || fail "disable_vga mode $(stat -c %a $dir/disable_vga)"
	[ "$(cat $dir/disable_vga)" = N ] || fail "disable_vga = $(cat $dir/disable_vga)"
fi
for p in disable_idle_d3 enable_sriov nointxmask; do
	[ "$(stat -c %a $dir/$p)" = 644 ] || fail "$p mode $(stat -c %a $dir/$p)"
	[ "$(cat $dir/$p)" = N ] || fail "$p = $(cat $dir/$p)"
done
[ "$(stat -c %a $dir/disable_denylist)" = 444 ] || fail "disable_denylist mode"
[ "$(cat $dir/disable_denylist)" = N ] || fail "disable_denylist = $(cat $dir/disable_denylist)"
echo Y >$dir/nointxmask && [ "$(cat $dir/nointxmask)" = Y ] || fail "nointxmask not writable"
echo N >$dir/nointxmask
# edu has no PM capability: D0 while bound and unused, on every kernel and both stacks
# (idle D3 of a function that has one: runtime_pm).
state=$(cat /sys/bus/pci/devices/$edu/power_state)
[ "$state" = D0 ] || fail "idle edu in $state"
unbind_driver "$edu"
unload_$stack
[ "$(current_driver "$edu")" = none ] || fail "edu still bound after unload"

RVFIO_PCI_PARAMS=nointxmask=1 RVFIO_NOINTXMASK=1 sh /guest/with-vfio.sh $stack \
	/tests/c/pci_device_test -r edu.intx_raised_by_device -r edu.intx_disable_mirrored \
	-r pci.edu.intx_loopback || fail "INTx tests with nointxmask=1"
echo "ok: parameters as upstream on $stack"
