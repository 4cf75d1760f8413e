// SPDX-License-Identifier: GPL-2.0

//! The safe wrappers of `rust/kernel_ext/` this crate uses. They hold all of the crate's
//! `unsafe` code, its exports included (`core_exports.rs`).

#[path = "../kernel_ext/fs/anon_file.rs"]
pub(crate) mod anon_file;
#[path = "../kernel_ext/abi/bus_callbacks.rs"]
pub(crate) mod bus_callbacks;
#[path = "../kernel_ext/fs/chrdev.rs"]
pub(crate) mod chrdev;
#[path = "../kernel_ext/abi/core_exports.rs"]
pub(crate) mod core_exports;
#[path = "../kernel_ext/base/current.rs"]
pub(crate) mod current;
#[path = "../kernel_ext/abi/device_abi.rs"]
pub(crate) mod device_abi;
#[path = "../kernel_ext/fs/device_inode.rs"]
pub(crate) mod device_inode;
#[path = "../kernel_ext/fs/file_ops.rs"]
pub(crate) mod file_ops;
#[path = "../kernel_ext/abi/iommu_abi.rs"]
pub(crate) mod iommu_abi;
#[path = "../kernel_ext/iommu/dma_owner.rs"]
pub(crate) mod iommu_dma_owner;
#[path = "../kernel_ext/abi/iommu_drivers.rs"]
pub(crate) mod iommu_drivers;
#[path = "../kernel_ext/iommu/group.rs"]
pub(crate) mod iommu_group;
#[path = "../kernel_ext/iommu/iommufd.rs"]
pub(crate) mod iommufd;
#[path = "../kernel_ext/virt/kvm.rs"]
pub(crate) mod kvm;
#[path = "../kernel_ext/abi/layout.rs"]
pub(crate) mod layout;
#[path = "../kernel_ext/fs/misc.rs"]
pub(crate) mod misc;
#[path = "../kernel_ext/base/module_lock.rs"]
pub(crate) mod module_lock;
#[path = "../kernel_ext/iommu/noiommu.rs"]
pub(crate) mod noiommu;
#[path = "../kernel_ext/base/raw.rs"]
pub(crate) mod raw;
