// SPDX-License-Identifier: GPL-2.0

//! The safe wrappers of `rust/kernel_ext/` this crate uses. They hold all of the crate's
//! `unsafe` code.

#[path = "../kernel_ext/core_abi.rs"]
pub(crate) mod core_abi;
#[path = "../kernel_ext/device_abi.rs"]
pub(crate) mod device_abi;
#[path = "../kernel_ext/eventfd.rs"]
pub(crate) mod eventfd;
#[path = "../kernel_ext/irq.rs"]
pub(crate) mod irq;
#[path = "../kernel_ext/layout.rs"]
pub(crate) mod layout;
#[path = "../kernel_ext/pci_driver.rs"]
pub(crate) mod pci_driver;
#[path = "../kernel_ext/pci_params.rs"]
pub(crate) mod pci_params;
#[path = "../kernel_ext/pci_raw.rs"]
pub(crate) mod pci_raw;
#[path = "../kernel_ext/pfn_mmap.rs"]
pub(crate) mod pfn_mmap;
#[path = "../kernel_ext/raw.rs"]
pub(crate) mod raw;
#[path = "../kernel_ext/registry.rs"]
pub(crate) mod registry;
#[path = "../kernel_ext/runtime_pm.rs"]
pub(crate) mod runtime_pm;
#[path = "../kernel_ext/uuid.rs"]
pub(crate) mod uuid;
