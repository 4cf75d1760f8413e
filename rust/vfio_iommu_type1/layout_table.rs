// SPDX-License-Identifier: GPL-2.0

//! The struct layouts vfio_iommu_type1.ko's Rust code depends on, by the names of their C
//! twins in `rust/vfio_iommu_type1/layout.c`; checked against C at module load.

use kernel::prelude::*;

use crate::{
    ext::layout,
    layout_entry, //
};

extern "C" {
    /// Entry `i` of the C table (`rust/vfio_iommu_type1/layout.c`).
    fn rvfio_type1_layout(i: u32, name: *mut *const kernel::ffi::c_char) -> usize;
}

/// Fails module load if bindgen and the C compiler disagree on any layout we use.
pub(crate) fn check() -> Result {
    let entries = [
        layout_entry!(iommu_resv_region.start),
        layout_entry!(iommu_resv_region.length),
        layout_entry!(iommu_resv_region.type_ as "iommu_resv_region.type"),
        layout_entry!(iommu_domain.ops),
        layout_entry!(iommu_domain.pgsize_bitmap),
        layout_entry!(iommu_domain.geometry),
        layout_entry!(iommu_domain_ops.enforce_cache_coherency),
    ];
    layout::check(rvfio_type1_layout, &entries)
}
