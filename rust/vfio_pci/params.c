// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-pci's module parameters, with upstream's names, types, permissions and descriptions
 * (drivers/vfio/pci/vfio_pci.c). They are defined in C because 7.3's Rust module! makes only
 * parameters that are neither visible in sysfs nor writable there, and has no string type;
 * rust/kernel_ext/pci/pci_params.rs reads them.
 */
#include <linux/compiler.h>
#include <linux/moduleparam.h>

/* Read once, at load; not __initdata since Rust module init is not __init text. */
static char ids[1024];
module_param_string(ids, ids, sizeof(ids), 0);
MODULE_PARM_DESC(ids, "Initial PCI IDs to add to the vfio driver, format is \"vendor:device[:subvendor[:subdevice[:class[:class_mask]]]]\" and multiple comma separated entries can be specified");

static bool nointxmask;
module_param_named(nointxmask, nointxmask, bool, 0644);
MODULE_PARM_DESC(nointxmask,
		 "Disable support for PCI 2.3 style INTx masking.  If this resolves problems for specific devices, report lspci -vvvxxx to linux-pci@vger.kernel.org so the device can be fixed automatically via the broken_intx_masking flag.");

#ifdef CONFIG_VFIO_PCI_VGA
static bool disable_vga;
module_param(disable_vga, bool, 0444);
MODULE_PARM_DESC(disable_vga, "Disable VGA resource access through vfio-pci");
#endif

/*
 * Idle D3 is runtime PM: with CONFIG_PM an idle bound device suspends into D3hot unless this
 * was set when it was bound (latched then, as upstream); without CONFIG_PM it has no effect.
 */
static bool disable_idle_d3;
module_param(disable_idle_d3, bool, 0644);
MODULE_PARM_DESC(disable_idle_d3,
		 "Disable using the PCI D3 low power state for idle, unused devices");

static bool enable_sriov;
#ifdef CONFIG_PCI_IOV
module_param(enable_sriov, bool, 0644);
MODULE_PARM_DESC(enable_sriov, "Enable support for SR-IOV configuration.  Enabling SR-IOV on a PF typically requires support of the userspace PF driver, enabling VFs without such support may result in non-functional VFs or PF.");
#endif

static bool disable_denylist;
module_param(disable_denylist, bool, 0444);
MODULE_PARM_DESC(disable_denylist, "Disable use of device denylist. Disabling the denylist allows binding to devices with known errata that may lead to exploitable stability or security issues when accessed by untrusted users.");

const char *rvfio_pci_param_ids(void);
bool rvfio_pci_param_nointxmask(void);
bool rvfio_pci_param_disable_idle_d3(void);
bool rvfio_pci_param_enable_sriov(void);
bool rvfio_pci_param_disable_denylist(void);

/* The ids= string: written only while the module loads, so stable afterwards. */
const char *rvfio_pci_param_ids(void)
{
	return ids;
}

/* The writable ones may change through sysfs at any time: read each once. */
bool rvfio_pci_param_nointxmask(void)
{
	return READ_ONCE(nointxmask);
}

bool rvfio_pci_param_disable_idle_d3(void)
{
	return READ_ONCE(disable_idle_d3);
}

bool rvfio_pci_param_enable_sriov(void)
{
	return READ_ONCE(enable_sriov);
}

bool rvfio_pci_param_disable_denylist(void)
{
	return READ_ONCE(disable_denylist);
}
