// SPDX-License-Identifier: GPL-2.0
/* C's view of the structures vfio-pci.ko's Rust code touches; see include/rvfio/layout.h. */
#include <linux/pci.h>
#include <rvfio/layout.h>

RVFIO_DEFINE_LAYOUT_TABLE(rvfio_pci_layout,
	RVFIO_SIZE(pci_driver)
	RVFIO_OFFSET(pci_driver, name)
	RVFIO_OFFSET(pci_driver, id_table)
	RVFIO_OFFSET(pci_driver, probe)
	RVFIO_OFFSET(pci_driver, remove)
	RVFIO_OFFSET(pci_driver, sriov_configure)
	RVFIO_OFFSET(pci_driver, driver_managed_dma)
	RVFIO_OFFSET(pci_driver, err_handler)
	RVFIO_SIZE(pci_error_handlers)
	RVFIO_OFFSET(pci_error_handlers, error_detected)
	RVFIO_SIZE(pci_device_id)
	RVFIO_OFFSET(pci_device_id, override_only)
	RVFIO_OFFSET(pci_dev, hdr_type)
	RVFIO_OFFSET(pci_dev, current_state)
	RVFIO_OFFSET(pci_dev, cfg_size)
	RVFIO_OFFSET(pci_dev, irq)
	RVFIO_OFFSET(pci_dev, resource)
	RVFIO_SIZE(resource)
	RVFIO_OFFSET(resource, flags)
	RVFIO_SIZE(vm_operations_struct)
	RVFIO_OFFSET(vm_operations_struct, fault)
)
