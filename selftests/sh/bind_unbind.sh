# SPDX-License-Identifier: GPL-2.0
# Move devices to vfio-pci and back: by driver_override (edu, igb: no kernel driver; nvme:
# from and back to its kernel driver), by new_id (e1000e), and by unloading vfio-pci with
# devices still bound. Each binding must register the device with the core in its IOMMU
# group.
. /guest/lib.sh

load_rvfio

# expect_registered BDF: the core logged the registration, with the device's group.
expect_registered() {
	local group
	group=$(iommu_group "$1")
	dmesg | grep -q "$1: registered with vfio, IOMMU group $group\$" \
		|| fail "$1 not registered with the core in IOMMU group $group"
}

for id in $EDU_ID $IGB_ID; do
	bdf=$(bdf_of $id) || fail "no device $id"
	[ "$(current_driver $bdf)" = none ] || fail "$bdf unexpectedly bound to $(current_driver $bdf)"
	for round in 1 2 3; do
		dmesg -c >/dev/null
		bind_driver "$bdf" vfio-pci
		expect_registered "$bdf"
		[ -c /dev/vfio/$(iommu_group $bdf) ] || fail "no group node /dev/vfio/$(iommu_group $bdf)"
		unbind_driver "$bdf"
		dmesg | grep -q "$bdf: unregistered from vfio" || fail "$bdf not unregistered"
		[ -e /dev/vfio/$(iommu_group $bdf) ] && fail "group node outlived the last device"
	done
	echo "$id ($bdf): bound and unbound 3 times"
done

nvme=$(bdf_of $NVME_ID) || fail "no nvme device"
[ "$(current_driver $nvme)" = nvme ] || fail "nvme starts on $(current_driver $nvme), not nvme"
dmesg -c >/dev/null
bind_driver "$nvme" vfio-pci
expect_registered "$nvme"
bind_driver "$nvme" nvme
echo > /sys/bus/pci/devices/$nvme/driver_override
echo "nvme ($nvme): nvme -> vfio-pci -> nvme"

e1000e=$(bdf_of $E1000E_ID) || fail "no e1000e device"
dmesg -c >/dev/null
echo "${E1000E_ID%%:*} ${E1000E_ID##*:}" > /sys/bus/pci/drivers/vfio-pci/new_id
[ "$(current_driver $e1000e)" = vfio-pci ] || fail "new_id did not bind e1000e"
expect_registered "$e1000e"
echo "${E1000E_ID%%:*} ${E1000E_ID##*:}" > /sys/bus/pci/drivers/vfio-pci/remove_id
echo "e1000e ($e1000e): bound by new_id"

# Unloading vfio-pci with devices bound unbinds (and unregisters) them.
edu=$(bdf_of $EDU_ID)
bind_driver "$edu" vfio-pci
dmesg -c >/dev/null
unload_rvfio
dmesg | grep -q "$edu: unregistered from vfio" || fail "rmmod did not unregister edu"
dmesg | grep -q "$e1000e: unregistered from vfio" || fail "rmmod did not unregister e1000e"
unbind_driver "$edu"
unbind_driver "$e1000e"

# An open group file pins vfio.ko (not vfio-pci.ko, whose removal revokes the group).
load_rvfio
bind_driver "$edu" vfio-pci
exec 5</dev/vfio/$(iommu_group $edu)
rmmod vfio_pci || fail "rmmod vfio_pci with a group open"
[ -e /dev/vfio/$(iommu_group $edu) ] && fail "group node outlived vfio-pci"
rmmod vfio_iommu_type1 || fail "rmmod vfio_iommu_type1 with no container set to it"
rmmod vfio 2>/dev/null && fail "vfio unloaded under an open group file"
exec 5<&-
rmmod vfio || fail "rmmod vfio after the group file closed"
unbind_driver "$edu"
check_dmesg_clean
