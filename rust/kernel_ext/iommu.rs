// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers over the kernel IOMMU API (`include/linux/iommu.h`), which 7.3's Rust
//! crate only exposes as raw bindings.

use core::ptr::NonNull;
use kernel::{
    bindings,
    device::Device,
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

    /// The group's number, as in `/sys/kernel/iommu_groups/<id>` and `/dev/vfio/<id>`.
    pub(crate) fn id(&self) -> u32 {
        // SAFETY: `self` is a live group (type invariant).
        let id = unsafe { bindings::iommu_group_id(self.0.get()) };
        // CAST: group ids come from an IDA and are never negative.
        id as u32
    }
}
