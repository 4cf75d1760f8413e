// SPDX-License-Identifier: GPL-2.0

//! DMA ownership of IOMMU groups (`include/linux/iommu.h`), what vfio.ko asks of a group:
//! finding a device's group, claiming it for userspace, and whether its IOMMU enforces cache
//! coherency.

use core::ptr::NonNull;
use kernel::{
    bindings,
    device::Device,
    prelude::*,
    sync::aref::ARef, //
};

use super::{
    iommu_group::IommuGroup,
    raw::device_ptr, //
};

/// Whether the IOMMU translating for `dev` can make its DMA cache coherent whatever the
/// device asks for (`IOMMU_CAP_ENFORCE_CACHE_COHERENCY`): what KVM needs to know to leave
/// the guest's WBINVD alone.
pub(crate) fn enforces_cache_coherency(dev: &Device) -> bool {
    // SAFETY: `dev` is a live device for the duration of the borrow.
    unsafe {
        bindings::device_iommu_capable(
            device_ptr(dev),
            bindings::iommu_cap_IOMMU_CAP_ENFORCE_CACHE_COHERENCY,
        )
    }
}

/// Whether the IOMMU translating for `dev` makes its DMA cache coherent when mapped
/// coherent (`IOMMU_CAP_CACHE_COHERENCY`): VFIO maps everything so (userspace has no way to
/// restore coherency), so it takes no device whose IOMMU cannot (false without an IOMMU).
pub(crate) fn maps_cache_coherent(dev: &Device) -> bool {
    // SAFETY: `dev` is a live device for the duration of the borrow.
    unsafe {
        bindings::device_iommu_capable(
            device_ptr(dev),
            bindings::iommu_cap_IOMMU_CAP_CACHE_COHERENCY,
        )
    }
}

impl IommuGroup {
    /// The IOMMU group of `dev`, or `None` when no IOMMU translates for it.
    pub(crate) fn of_device(dev: &Device) -> Option<ARef<Self>> {
        // SAFETY: `dev` is a live device for the duration of the borrow. On success
        // `iommu_group_get` returns a new reference, which the `ARef` takes over.
        let group = NonNull::new(unsafe { bindings::iommu_group_get(device_ptr(dev)) })?;
        // SAFETY: `group` is a live group and we own the reference just taken.
        // INVARIANT: the reference keeps the group alive while the `ARef` exists.
        Some(unsafe { ARef::from_raw(group.cast()) })
    }

    /// Whether some driver owns DMA for a device of the group: a kernel driver bound with
    /// the default domain, or a user like us through [`DmaOwnerClaim`]. A group nobody owns
    /// is what VFIO calls viable.
    pub(crate) fn dma_owner_claimed(&self) -> bool {
        // SAFETY: `self` is a live group (type invariant).
        unsafe { bindings::iommu_group_dma_owner_claimed(self.as_raw()) }
    }

    /// Takes DMA ownership of the whole group for userspace: fails with -EPERM while a
    /// kernel driver with DMA is bound to one of its devices, and keeps such drivers from
    /// binding until the claim is dropped.
    pub(crate) fn claim_dma_owner(this: &ARef<Self>) -> Result<DmaOwnerClaim> {
        let group = this.clone();
        // The owner cookie only has to be unique to this claim: the group's own address.
        let owner = group.as_raw().cast::<core::ffi::c_void>();
        // SAFETY: `group` is live; `owner` is an opaque token the IOMMU core compares only.
        kernel::error::to_result(unsafe {
            bindings::iommu_group_claim_dma_owner(group.as_raw(), owner)
        })?;
        // INVARIANT: the claim succeeded and is released exactly once, by the drop.
        Ok(DmaOwnerClaim { group })
    }
}

/// DMA ownership of an IOMMU group taken by [`IommuGroup::claim_dma_owner`]; dropping it
/// hands the group back to the kernel.
///
/// # Invariants
///
/// `iommu_group_claim_dma_owner()` succeeded for `group` and is not released yet.
pub(crate) struct DmaOwnerClaim {
    group: ARef<IommuGroup>,
}

impl Drop for DmaOwnerClaim {
    fn drop(&mut self) {
        // SAFETY: The claim is live (type invariant) and released only here.
        unsafe { bindings::iommu_group_release_dma_owner(self.group.as_raw()) };
    }
}
