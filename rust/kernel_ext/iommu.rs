// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers over the kernel IOMMU API (`include/linux/iommu.h`), which 7.3's Rust
//! crate only exposes as raw bindings.

use core::ptr::NonNull;
use kernel::{
    bindings,
    device::Device,
    error::Result,
    sync::aref::{
        ARef,
        AlwaysRefCounted, //
    },
    types::Opaque, //
};

use super::raw::device_ptr;

/// An IOMMU group (`struct iommu_group`): the unit of DMA isolation, and so of VFIO
/// ownership.
///
/// # Invariants
///
/// A shared reference to an `IommuGroup` always points to a live group whose reference count
/// is kept non-zero by its [`ARef`] holders.
#[repr(transparent)]
pub(crate) struct IommuGroup(Opaque<bindings::iommu_group>);

// SAFETY: IOMMU groups are reference counted objects usable from any thread.
unsafe impl Send for IommuGroup {}
// SAFETY: Every `&self` method calls thread-safe C functions.
unsafe impl Sync for IommuGroup {}

// SAFETY: `iommu_group_ref_get`/`iommu_group_put` keep the group alive while a reference is
// held, which is what `AlwaysRefCounted` needs.
unsafe impl AlwaysRefCounted for IommuGroup {
    fn inc_ref(&self) {
        // SAFETY: `self` is a live group (type invariant).
        unsafe { bindings::iommu_group_ref_get(self.0.get()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller owns a reference to a live group.
        unsafe { bindings::iommu_group_put(obj.cast().as_ptr()) };
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
        unsafe { bindings::iommu_group_dma_owner_claimed(self.0.get()) }
    }

    /// Takes DMA ownership of the whole group for userspace: fails with -EPERM while a
    /// kernel driver with DMA is bound to one of its devices, and keeps such drivers from
    /// binding until the claim is dropped.
    pub(crate) fn claim_dma_owner(this: &ARef<Self>) -> Result<DmaOwnerClaim> {
        let group = this.clone();
        // The owner cookie only has to be unique to this claim: the group's own address.
        let owner = group.0.get().cast::<core::ffi::c_void>();
        // SAFETY: `group` is live; `owner` is an opaque token the IOMMU core compares only.
        kernel::error::to_result(unsafe {
            bindings::iommu_group_claim_dma_owner(group.0.get(), owner)
        })?;
        // INVARIANT: the claim succeeded and is released exactly once, by the drop.
        Ok(DmaOwnerClaim { group })
    }

    /// The group's number, as in `/sys/kernel/iommu_groups/<id>` and `/dev/vfio/<id>`.
    pub(crate) fn id(&self) -> u32 {
        // SAFETY: `self` is a live group (type invariant).
        let id = unsafe { bindings::iommu_group_id(self.0.get()) };
        // CAST: group ids come from an IDA and are never negative.
        id as u32
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

impl DmaOwnerClaim {
    /// The group this claim is for.
    pub(crate) fn group(&self) -> &ARef<IommuGroup> {
        &self.group
    }
}

impl Drop for DmaOwnerClaim {
    fn drop(&mut self) {
        // SAFETY: The claim is live (type invariant) and released only here.
        unsafe { bindings::iommu_group_release_dma_owner(self.group.0.get()) };
    }
}
