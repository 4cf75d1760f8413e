# SPDX-License-Identifier: GPL-2.0
# with_all_devices.sh COMMAND...: run inside with-vfio.sh (a VFIO stack loaded, edu and igb
# on vfio-pci); also moves e1000e (no kernel driver) and nvme (from its nvme driver) to
# vfio-pci, exports RVFIO_E1000E_BDF and RVFIO_NVME_BDF, runs COMMAND and puts both back
# where they were: e1000e unbound, nvme on nvme. Exit status is COMMAND's (1 if the
# devices could not be bound or restored).
. /guest/lib.sh
e1000e=$(bdf_of $E1000E_ID) || fail "no e1000e device"
nvme=$(bdf_of $NVME_ID) || fail "no nvme device"
nvme_driver=$(current_driver "$nvme")
bind_driver "$e1000e" vfio-pci
bind_driver "$nvme" vfio-pci
export RVFIO_E1000E_BDF=$e1000e RVFIO_NVME_BDF=$nvme
"$@"
rc=$?
unbind_driver "$e1000e"
unbind_driver "$nvme"
if [ "$nvme_driver" != none ]; then
	echo "$nvme" > /sys/bus/pci/drivers_probe
	[ "$(current_driver "$nvme")" = "$nvme_driver" ] ||
		fail "nvme not back on $nvme_driver (bound: $(current_driver "$nvme"))"
fi
exit $rc
