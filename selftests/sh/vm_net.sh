# SPDX-License-Identifier: GPL-2.0
# vm_net.sh rvfio|upstream: a NIC in a VM with traffic. The guest's e1000e, whose wire the
# test guest's QEMU loops back to it (run-guest.sh), is passed through to a KVM VM on that
# stack; the VM's e1000e driver sends raw Ethernet frames (no IP) and must receive them back
# intact, each at most once, at most 1% lost (selftests/vm/vm_net_check.c), with interrupts counted in the VM and in the
# guest. QEMU must exit 0 with nothing from its VFIO code on stderr, nothing may stay
# pinned, and the device must be reusable: a second VM run on it passes too.
#
# Why not an igb VF, the classic cloud NIC: a VF's driver (igbvf) needs the PF's driver to
# answer its mailbox (reset, MAC address), and with the PF on vfio-pci, as the VF-token path
# has it, nothing does; the PF on the kernel's igb driver is not a VFIO path at all.
. /guest/lib.sh
. /guest/vm.sh

# net_ok NAME: the VM saw all its frames back, intact.
net_ok() { vm_result "$1" net | grep -q '^ok '; }

vm_setup "$1"
nic=$(bdf_of $E1000E_ID) || fail "no e1000e device"

for run in 1 2; do
	vm_own "$nic"
	pins0=$(pinned_pages)
	vm_start net$run net "$nic"
	vm_wait net$run
	rc=$?
	vm_show net$run
	vm_check "run $run: QEMU exited 0 (got $rc)" [ $rc -eq 0 ]
	vm_check "run $run: frames back intact, at most 1% lost on the host's UDP wire ($(vm_result net$run net))" net_ok net$run
	vm_check "run $run: VM task done, its kernel log clean" vm_done_ok net$run
	vm_check "run $run: the e1000e's interrupts in the VM ($(vm_result net$run net-irq-total))" \
		[ "$(vm_result net$run net-irq-total)" -gt 0 ]
	vm_check "run $run: the guest's VFIO MSI-X IRQs of $nic fired ($(vm_host_irqs net$run msix))" \
		[ "$(vm_host_irqs net$run msix)" -gt 0 ]
	vm_check "run $run: no pinned pages left" pins_back_to "$pins0"
	vm_check "run $run: QEMU's stderr clean (no VFIO error or warning)" vm_stderr_clean net$run
	vm_check "run $run: $nic back on no driver" vm_release "$nic"
done
vm_teardown || fail "tear-down"
vm_verdict
