# SPDX-License-Identifier: GPL-2.0
# noiommu.sh rvfio|upstream COMMAND...: no-IOMMU mode on that stack, in a guest booted
# without an IOMMU (run-tests.sh's noiommu boot). Checks the parameter (upstream's name,
# 0644, off by default) and that vfio-pci refuses a device without an IOMMU while the mode
# is off; switches it on, binds the e1000e and the edu to vfio-pci and checks their
# "vfio-noiommu" groups, /dev/vfio/noiommu-N nodes, the taint and the warning; runs COMMAND
# with RVFIO_NIC_BDF and RVFIO_EDU_BDF set; unbinds and checks the groups are gone.
#
# On a kernel without CONFIG_VFIO_NOIOMMU (Debian's) the mode does not exist, on either
# stack: that is checked (no parameter, the device refused) and COMMAND is skipped (exit 4).
. /guest/lib.sh

stack=$1
shift
case $stack in
rvfio | upstream) ;;
*) fail "usage: noiommu.sh rvfio|upstream COMMAND..." ;;
esac
param=/sys/module/vfio/parameters/enable_unsafe_noiommu_mode
iommus=$(ls /sys/class/iommu 2>/dev/null)
[ -z "$iommus" ] || fail "this boot has an IOMMU ($iommus): noiommu tests need one without"
nic=$(bdf_of $E1000E_ID) || fail "no e1000e"
edu=$(bdf_of $EDU_ID) || fail "no edu"
for d in $nic $edu; do
	[ ! -e /sys/bus/pci/devices/$d/iommu_group ] || fail "$d has an IOMMU group before vfio-pci binds it"
done

# refused BDF: binding BDF to vfio-pci must fail and leave it on no driver, in no group.
refused() {
	local dev=/sys/bus/pci/devices/$1
	[ -e $dev/driver ] && echo "$1" > $dev/driver/unbind
	echo vfio-pci > $dev/driver_override
	echo "$1" > /sys/bus/pci/drivers_probe 2>/dev/null
	[ "$(current_driver $1)" = none ] || fail "$1 bound to $(current_driver $1) without an IOMMU while no-IOMMU mode is off"
	echo > $dev/driver_override
	[ ! -e $dev/iommu_group ] || fail "$1 is left in an IOMMU group"
}

load_$stack
if ! kconfig VFIO_NOIOMMU; then
	[ ! -e $param ] || fail "$param exists on a kernel without CONFIG_VFIO_NOIOMMU"
	refused $nic
	unload_$stack
	echo "no CONFIG_VFIO_NOIOMMU: no-IOMMU mode absent on $stack, as it must be; $* not run"
	exit 4
fi

[ -e $param ] || fail "no $param"
[ "$(stat -c %a $param)" = 644 ] || fail "$param has mode $(stat -c %a $param), not 644"
[ "$(cat $param)" = N ] || fail "$param is $(cat $param) at load, not N"
refused $nic
ls /dev/vfio | grep -q '^noiommu-' && fail "a noiommu node exists with the mode off: $(ls /dev/vfio)"

echo Y > $param || fail "cannot switch no-IOMMU mode on"
bind_driver $nic vfio-pci
bind_driver $edu vfio-pci
dmesg | grep -q "$nic: Adding kernel taint for vfio-noiommu group on device" ||
	fail "no taint warning for $nic in dmesg"
# TAINT_USER, bit 6 ('U').
[ $(($(cat /proc/sys/kernel/tainted) >> 6 & 1)) -eq 1 ] || fail "kernel not tainted (TAINT_USER) after binding $nic"
groups=
for d in $nic $edu; do
	g=$(iommu_group $d)
	[ -n "$g" ] || fail "$d has no IOMMU group after binding"
	[ "$(cat /sys/kernel/iommu_groups/$g/name 2>/dev/null)" = vfio-noiommu ] ||
		fail "group $g of $d is not named vfio-noiommu"
	[ -c /dev/vfio/noiommu-$g ] || fail "no /dev/vfio/noiommu-$g: $(ls /dev/vfio)"
	[ ! -e /dev/vfio/$g ] || fail "/dev/vfio/$g exists beside noiommu-$g"
	groups="$groups $g"
done

RVFIO_NIC_BDF=$nic RVFIO_EDU_BDF=$edu RVFIO_STACK=$stack "$@"
rc=$?

unbind_driver $nic
unbind_driver $edu
for g in $groups; do
	[ ! -e /dev/vfio/noiommu-$g ] || fail "/dev/vfio/noiommu-$g left after unbind"
	[ ! -e /sys/kernel/iommu_groups/$g ] || fail "IOMMU group $g left after unbind"
done
echo N > $param
unload_$stack
exit $rc
