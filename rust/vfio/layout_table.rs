// SPDX-License-Identifier: GPL-2.0

//! The struct layouts vfio.ko's Rust code depends on, in the order of `RVFIO_LAYOUT_CORE`
//! in `include/rvfio/layout.h`; checked against C at module load.

use kernel::prelude::*;

use crate::{
    ext::layout::{
        self,
        LayoutEntry, //
    },
    layout_entry,
};

extern "C" {
    /// Entry `i` of the C table (`rust/vfio/layout.c`).
    fn rvfio_core_layout(i: u32) -> usize;
}

/// Fails module load if bindgen and the C compiler disagree on any layout we use.
pub(crate) fn check() -> Result {
    let entries: [LayoutEntry; 22] = [
        layout_entry!(size device),
        layout_entry!(device.class),
        layout_entry!(device.devt),
        layout_entry!(device.release),
        layout_entry!(size cdev),
        layout_entry!(cdev.owner),
        layout_entry!(class.name),
        layout_entry!(class.devnode),
        layout_entry!(inode.__bindgen_anon_5),
        layout_entry!(file.f_op),
        layout_entry!(file.private_data),
        layout_entry!(iommu_resv_region.start),
        layout_entry!(iommu_resv_region.length),
        layout_entry!(iommu_resv_region.type_),
        layout_entry!(iommu_domain.ops),
        layout_entry!(iommu_domain.pgsize_bitmap),
        layout_entry!(iommu_domain.geometry),
        layout_entry!(iommu_domain_ops.enforce_cache_coherency),
        layout_entry!(size miscdevice),
        layout_entry!(miscdevice.minor),
        layout_entry!(miscdevice.nodename),
        layout_entry!(miscdevice.mode),
    ];
    layout::check(rvfio_core_layout, &entries)
}
