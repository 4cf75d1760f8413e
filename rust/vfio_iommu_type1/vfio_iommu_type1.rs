// SPDX-License-Identifier: GPL-2.0

//! rvfio `vfio_iommu_type1.ko`: the type1 IOMMU backend of VFIO containers
//! (`VFIO_TYPE1_IOMMU`, `VFIO_TYPE1v2_IOMMU`), registered with vfio.ko.

use kernel::prelude::*;

#[path = "../uapi/args.rs"]
mod args;
mod ext;
#[path = "../uapi/info_caps.rs"]
mod info_caps;
mod layout_table;
mod type1;
#[path = "../uapi/vfio_uapi.rs"]
mod uapi;

use ext::iommu_driver::IommuDriverRegistration;
use type1::Type1;

module! {
    type: Type1Module,
    name: "vfio_iommu_type1",
    authors: ["rvfio developers"],
    description: "Type1 IOMMU driver for VFIO (rvfio)",
    license: "GPL",
    imports_ns: ["RVFIO"],
}

/// The module's registration: containers can be set to type1 while it lives. Module
/// parameters: `rust/vfio_iommu_type1/params.c` (upstream's, visible in sysfs).
struct Type1Module {
    _driver: IommuDriverRegistration<Type1>,
}

impl kernel::Module for Type1Module {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        layout_table::check()?;
        Ok(Self {
            _driver: IommuDriverRegistration::new()?,
        })
    }
}
