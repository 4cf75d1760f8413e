// SPDX-License-Identifier: GPL-2.0

//! The safe wrappers of `rust/kernel_ext/` this crate uses. They hold all of the crate's
//! `unsafe` code.

#[path = "../kernel_ext/abi/core_abi.rs"]
pub(crate) mod core_abi;
#[path = "../kernel_ext/abi/device_abi.rs"]
pub(crate) mod device_abi;
#[path = "../kernel_ext/irq/eventfd.rs"]
pub(crate) mod eventfd;
#[path = "../kernel_ext/irq/irq.rs"]
pub(crate) mod irq;
#[path = "../kernel_ext/abi/layout.rs"]
pub(crate) mod layout;
#[path = "../kernel_ext/base/module_lock.rs"]
pub(crate) mod module_lock;
#[path = "../kernel_ext/pci/pci_driver.rs"]
pub(crate) mod pci_driver;
#[path = "../kernel_ext/pci/pci_params.rs"]
pub(crate) mod pci_params;
#[path = "../kernel_ext/pci/pci_raw.rs"]
pub(crate) mod pci_raw;
#[path = "../kernel_ext/mm/pfn_mmap.rs"]
pub(crate) mod pfn_mmap;
#[path = "../kernel_ext/base/raw.rs"]
pub(crate) mod raw;
#[path = "../kernel_ext/base/registry.rs"]
pub(crate) mod registry;
#[path = "../kernel_ext/pci/runtime_pm.rs"]
pub(crate) mod runtime_pm;
#[path = "../kernel_ext/base/uuid.rs"]
pub(crate) mod uuid;
