# SPDX-License-Identifier: GPL-2.0
# The main job, as a user meets it: load rvfio, hand the guest's NVMe to vfio-pci, start a
# KVM virtual machine with QEMU that uses it through VFIO (-device vfio-pci), and show what
# the VM did with it: data written and read back, interrupts counted, on both sides.
. /guest/lib.sh
. /guest/vm.sh

echo "== loading rvfio (vfio.ko, vfio_iommu_type1.ko, vfio-pci.ko)"
vm_setup rvfio
grep -w vfio /proc/misc
lsmod | grep -E '^vfio' || true

nvme=$(bdf_of $NVME_ID) || fail "no nvme device"
echo "== the NVMe at $nvme (IOMMU group $(iommu_group $nvme)): from its kernel driver" \
	"($(current_driver $nvme)) to vfio-pci"
vm_own "$nvme"
echo "$nvme is now driven by: $(current_driver $nvme); /dev/vfio: $(ls /dev/vfio | tr '\n' ' ')"

echo "== starting a KVM VM: QEMU -accel kvm -cpu host -device vfio-pci,host=$nvme"
pins0=$(pinned_pages)
vm_start demo blk "$nvme"
vm_wait demo
rc=$?
echo "== what the VM reported (its console)"
vm_result demo pci | sed 's/^/   PCI device in the VM: /'
vm_result demo disk | sed 's/^/   its disk: /'
vm_result demo blk | sed 's/^/   O_DIRECT write + read back + compare, bytes: /'
vm_result demo irq-total | sed 's/^/   nvme interrupts in the VM: /'
echo "== in this guest: VFIO interrupts that carried them to the VM"
sed 's/^/   vfio-/' "$VM_RUN/demo/host-irqs" 2>/dev/null
echo "== QEMU exited with $rc after $(cat $VM_RUN/demo/secs) s; its stderr:"
if [ -s "$VM_RUN/demo/stderr.log" ]; then sed 's/^/   /' "$VM_RUN/demo/stderr.log"; else echo "   (nothing)"; fi

VM_FAILS=0
vm_check "QEMU exited 0" [ $rc -eq 0 ]
vm_check "the VM wrote and read back every size equal" vm_blk_ok demo
vm_check "the VM counted its nvme's MSI-X interrupts" [ "$(vm_irqs demo MSIX)" -gt 0 ]
vm_check "QEMU printed nothing from its VFIO code" vm_stderr_clean demo
vm_check "nothing stays pinned" pins_back_to "$pins0"
dev=$(vm_release "$nvme")
vm_check "the NVMe is back on its driver ($dev), with the VM's data on it" \
	$VM_BLK -d "$dev" -s "$(cat $VM_RUN/demo/seed)" verify
vm_teardown || VM_FAILS=$((VM_FAILS + 1))
check_dmesg_clean
[ $VM_FAILS -eq 0 ] && echo "== demo OK" || echo "== demo FAILED"
[ $VM_FAILS -eq 0 ]
