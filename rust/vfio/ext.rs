// SPDX-License-Identifier: GPL-2.0

//! The safe wrappers of `rust/kernel_ext/` this crate uses. They hold all of the crate's
//! `unsafe` code apart from the FFI boundary in `bus.rs`.

#[path = "../kernel_ext/anon_file.rs"]
pub(crate) mod anon_file;
#[path = "../kernel_ext/bus_callbacks.rs"]
pub(crate) mod bus_callbacks;
#[path = "../kernel_ext/chrdev.rs"]
pub(crate) mod chrdev;
#[path = "../kernel_ext/device_abi.rs"]
pub(crate) mod device_abi;
#[path = "../kernel_ext/device_inode.rs"]
pub(crate) mod device_inode;
#[path = "../kernel_ext/file_ops.rs"]
pub(crate) mod file_ops;
#[path = "../kernel_ext/gup.rs"]
pub(crate) mod gup;
#[path = "../kernel_ext/iommu.rs"]
pub(crate) mod iommu;
#[path = "../kernel_ext/kvm.rs"]
pub(crate) mod kvm;
#[path = "../kernel_ext/layout.rs"]
pub(crate) mod layout;
#[path = "../kernel_ext/misc.rs"]
pub(crate) mod misc;
#[path = "../kernel_ext/raw.rs"]
pub(crate) mod raw;
#[path = "../kernel_ext/run_list.rs"]
pub(crate) mod run_list;
