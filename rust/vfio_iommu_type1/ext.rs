// SPDX-License-Identifier: GPL-2.0

//! The safe wrappers of `rust/kernel_ext/` this crate uses. They hold all of the crate's
//! `unsafe` code.

#[path = "../kernel_ext/mm/gup.rs"]
pub(crate) mod gup;
#[path = "../kernel_ext/abi/iommu_abi.rs"]
pub(crate) mod iommu_abi;
#[path = "../kernel_ext/iommu/domain.rs"]
pub(crate) mod iommu_domain;
#[path = "../kernel_ext/abi/iommu_driver.rs"]
pub(crate) mod iommu_driver;
#[path = "../kernel_ext/iommu/group.rs"]
pub(crate) mod iommu_group;
#[path = "../kernel_ext/abi/layout.rs"]
pub(crate) mod layout;
#[path = "../kernel_ext/base/raw.rs"]
pub(crate) mod raw;
#[path = "../kernel_ext/mm/run_list.rs"]
pub(crate) mod run_list;
#[path = "../kernel_ext/iommu/type1_params.rs"]
pub(crate) mod type1_params;
