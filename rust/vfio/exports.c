// SPDX-License-Identifier: GPL-2.0
/*
 * Exports of vfio.ko. The device ABI is implemented in Rust (rust/vfio/bus.rs, exported by
 * rust/kernel_ext/abi/core_exports.rs), but only C
 * can emit ksymtab entries, so the exports live here, in the "RVFIO" namespace; KVM's
 * entry points (rust/vfio/kvm.rs) too, in none.
 */
#include <linux/build_bug.h>
#include <linux/export.h>
#include <linux/module.h>
#include <linux/stddef.h>
#include <linux/vfio.h>
#include <rvfio/device_abi.h>
#include <rvfio/iommu_abi.h>

EXPORT_SYMBOL_NS_GPL(rvfio_register_device, "RVFIO");
EXPORT_SYMBOL_NS_GPL(rvfio_unregister_device, "RVFIO");
EXPORT_SYMBOL_NS_GPL(rvfio_device_unmap_mmaps, "RVFIO");
EXPORT_SYMBOL_NS_GPL(rvfio_file_is_group, "RVFIO");
EXPORT_SYMBOL_NS_GPL(rvfio_file_has_dev, "RVFIO");
EXPORT_SYMBOL_NS_GPL(rvfio_device_cdev_opened, "RVFIO");
EXPORT_SYMBOL_NS_GPL(rvfio_device_iommufd_id, "RVFIO");

/* The IOMMU backend ABI (rust/kernel_ext/abi/iommu_drivers.rs). */
EXPORT_SYMBOL_NS_GPL(rvfio_register_iommu_driver, "RVFIO");
EXPORT_SYMBOL_NS_GPL(rvfio_unregister_iommu_driver, "RVFIO");

/*
 * As upstream's vfio.ko: a container is of little use without type1, which modprobe then
 * loads after this module.
 */
MODULE_SOFTDEP("post: vfio_iommu_type1");

/*
 * What KVM's kvm-vfio device finds with symbol_get() (rust/vfio/kvm.rs): upstream's names,
 * with their prototypes from <linux/vfio.h> so that the signatures cannot differ, and no
 * namespace (symbol_get() ignores namespaces; upstream exports them without one).
 */
EXPORT_SYMBOL_GPL(vfio_file_is_valid);
EXPORT_SYMBOL_GPL(vfio_file_enforced_coherent);
EXPORT_SYMBOL_GPL(vfio_file_set_kvm);
EXPORT_SYMBOL_GPL(vfio_file_iommu_group);

/* Must match the assertions in rust/kernel_ext/abi/device_abi.rs. */
static_assert(offsetof(struct rvfio_device_ops, open_device) == 8);
static_assert(offsetof(struct rvfio_device_ops, close_device) == 16);
static_assert(offsetof(struct rvfio_device_ops, ioctl) == 24);
static_assert(offsetof(struct rvfio_device_ops, read) == 32);
static_assert(offsetof(struct rvfio_device_ops, write) == 40);
static_assert(offsetof(struct rvfio_device_ops, mmap) == 48);
static_assert(offsetof(struct rvfio_device_ops, request) == 56);
static_assert(offsetof(struct rvfio_device_ops, owner) == 64);
static_assert(offsetof(struct rvfio_device_ops, match_token) == 72);
static_assert(sizeof(struct rvfio_device_ops) == 80);

/* Must match the assertions in rust/kernel_ext/abi/iommu_abi.rs. */
static_assert(RVFIO_IOMMU_ABI_VERSION == 1);
static_assert(offsetof(struct rvfio_iommu_driver_ops, owner) == 8);
static_assert(offsetof(struct rvfio_iommu_driver_ops, offers) == 16);
static_assert(offsetof(struct rvfio_iommu_driver_ops, open) == 24);
static_assert(offsetof(struct rvfio_iommu_driver_ops, release) == 32);
static_assert(offsetof(struct rvfio_iommu_driver_ops, check_extension) == 40);
static_assert(offsetof(struct rvfio_iommu_driver_ops, attach_group) == 48);
static_assert(offsetof(struct rvfio_iommu_driver_ops, detach_group) == 56);
static_assert(offsetof(struct rvfio_iommu_driver_ops, ioctl) == 64);
static_assert(sizeof(struct rvfio_iommu_driver_ops) == 72);
