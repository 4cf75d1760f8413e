# SPDX-License-Identifier: GPL-2.0
# hotplug.sh rvfio|upstream: hot-unplug of a device a VFIO user holds (c/hotplug_test.c) on
# that stack. The e1000e ("nic1" on root port "rp3") is bound to vfio-pci, unplugged by the
# test through QEMU's own monitor (device_del, qemu-test/monitor-relay.py), plugged back
# (device_add) between cases and at the end, and left on the driver it started on (none in
# the test kernel, which has no e1000e driver).
#
# hotplug.sh --unplug: ask QEMU to unplug the e1000e (the guest's pciehp then removes it).
# hotplug.sh --plug BDF: plug it back if it is gone and bind it to vfio-pci (the test's
# fixture set-up).
. /guest/lib.sh

NIC_ID=nic1
NIC_PORT=rp3
# The looped-back wire it is plugged back into (run-guest.sh).
NIC_NETDEV=nicnet

# nic_plug BDF: the e1000e is at BDF again, enumerated and past driver probing.
nic_plug() {
	local bdf=$1 waited=0
	while [ ! -e /sys/bus/pci/devices/$bdf ]; do
		# QEMU refuses the add while the previous unplug is still being completed: ask
		# again every 5 s.
		[ $((waited % 5)) -eq 0 ] && qemu_monitor "device_add e1000e,id=$NIC_ID,bus=$NIC_PORT,netdev=$NIC_NETDEV"
		[ $waited -lt 60 ] || fail "$bdf did not come back within 60 s of device_add"
		sleep 1
		waited=$((waited + 1))
	done
	# Enumeration adds the device before it probes drivers for it.
	sleep 1
}

case $1 in
--unplug)
	qemu_monitor "device_del $NIC_ID"
	exit 0
	;;
--plug)
	bdf=$2
	[ -e /sys/bus/pci/devices/$bdf ] || nic_plug "$bdf"
	[ "$(current_driver $bdf)" = vfio-pci ] || bind_driver "$bdf" vfio-pci
	exit 0
	;;
esac

stack=$1
case $stack in
rvfio | upstream) load_$stack ;;
*) fail "usage: hotplug.sh rvfio|upstream | --unplug | --plug BDF" ;;
esac
nic=$(bdf_of $E1000E_ID) || fail "no e1000e device"
initial=$(current_driver $nic)
[ "$initial" != vfio-pci ] || fail "$nic already on vfio-pci"
bind_driver "$nic" vfio-pci
RVFIO_NIC_BDF=$nic /tests/c/hotplug_test
rc=$?
# Whatever happened: the device back, on its own driver.
[ -e /sys/bus/pci/devices/$nic ] || nic_plug "$nic"
if [ "$initial" = none ]; then
	unbind_driver "$nic"
else
	bind_driver "$nic" "$initial"
	echo > /sys/bus/pci/devices/$nic/driver_override
fi
unload_$stack
exit $rc
