/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Offsets and sizes of kernel structures that rvfio's Rust code reads, writes or allocates,
 * as the C compiler lays them out. Rust sees these structures through bindgen (clang), and
 * on a GCC-built kernel the two can disagree: on the 7.3 test kernel, task_struct::mm is at
 * 912 for GCC and 864 for bindgen. Each module compares these tables with bindgen's view at
 * load time (rust/kernel_ext/abi/layout.rs) and refuses to load on any difference.
 *
 * Keep each list in the same order as its Rust twin.
 */
#ifndef _RVFIO_LAYOUT_H
#define _RVFIO_LAYOUT_H

#include <linux/stddef.h>

/* vfio.ko: rust/vfio/layout_table.rs */
#define RVFIO_LAYOUT_CORE(X)                                            \
	X(sizeof(struct device))                                        \
	X(offsetof(struct device, class))                               \
	X(offsetof(struct device, devt))                                \
	X(offsetof(struct device, release))                             \
	X(sizeof(struct cdev))                                          \
	X(offsetof(struct cdev, owner))                                 \
	X(offsetof(struct class, name))                                 \
	X(offsetof(struct class, devnode))                              \
	X(offsetof(struct inode, i_cdev))                               \
	X(offsetof(struct file, f_op))                                  \
	X(offsetof(struct file, private_data))                          \
	X(offsetof(struct iommu_resv_region, start))                    \
	X(offsetof(struct iommu_resv_region, length))                   \
	X(offsetof(struct iommu_resv_region, type))                     \
	X(offsetof(struct iommu_domain, ops))                           \
	X(offsetof(struct iommu_domain, pgsize_bitmap))                 \
	X(offsetof(struct iommu_domain, geometry))                      \
	X(offsetof(struct iommu_domain_ops, enforce_cache_coherency))   \
	X(sizeof(struct miscdevice))                                    \
	X(offsetof(struct miscdevice, minor))                           \
	X(offsetof(struct miscdevice, nodename))                        \
	X(offsetof(struct miscdevice, mode))

/* vfio-pci.ko: rust/vfio_pci/layout_table.rs */
#define RVFIO_LAYOUT_PCI(X)                                             \
	X(sizeof(struct pci_driver))                                    \
	X(offsetof(struct pci_driver, name))                            \
	X(offsetof(struct pci_driver, id_table))                        \
	X(offsetof(struct pci_driver, probe))                           \
	X(offsetof(struct pci_driver, remove))                          \
	X(offsetof(struct pci_driver, sriov_configure))                 \
	X(offsetof(struct pci_driver, driver_managed_dma))              \
	X(sizeof(struct pci_device_id))                                 \
	X(offsetof(struct pci_device_id, override_only))                \
	X(offsetof(struct pci_dev, hdr_type))                            \
	X(offsetof(struct pci_dev, current_state))                       \
	X(offsetof(struct pci_dev, cfg_size))                            \
	X(offsetof(struct pci_dev, irq))                                 \
	X(offsetof(struct pci_dev, resource))                            \
	X(sizeof(struct resource))                                       \
	X(offsetof(struct resource, flags))                              \
	X(sizeof(struct vm_operations_struct))                           \
	X(offsetof(struct vm_operations_struct, fault))

#define RVFIO_LAYOUT_ENTRY(expr) (expr),

/* Defines @fn(i): entry i of @list, or ULONG_MAX past its end. */
#define RVFIO_DEFINE_LAYOUT_TABLE(fn, list)                             \
	static const unsigned long fn##_table[] = { list(RVFIO_LAYOUT_ENTRY) }; \
	unsigned long fn(unsigned int i);                               \
	unsigned long fn(unsigned int i)                                \
	{                                                               \
		return i < ARRAY_SIZE(fn##_table) ? fn##_table[i] : ULONG_MAX; \
	}

#endif /* _RVFIO_LAYOUT_H */
