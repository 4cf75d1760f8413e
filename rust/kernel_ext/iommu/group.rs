// SPDX-License-Identifier: GPL-2.0

//! IOMMU groups (`struct iommu_group` of `include/linux/iommu.h`, which 7.3's Rust crate
//! only exposes as raw bindings): the reference-counted type that vfio.ko and its IOMMU
//! backends share. What only the core asks of a group (its DMA ownership) is in
//! `dma_owner.rs`, what only a backend asks (domains, mapping) in `domain.rs`.

use core::ptr::NonNull;
use kernel::{
    bindings,
    sync::aref::AlwaysRefCounted,
    types::Opaque, //
};

/// An IOMMU group (`struct iommu_group`): the unit of DMA isolation, and so of VFIO
/// ownership.
///
/// # Invariants
///
/// A shared reference to an `IommuGroup` always points to a live group whose reference count
/// is kept non-zero by its [`ARef`](kernel::sync::aref::ARef) holders.
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
    /// Borrows a group a caller passes.
    ///
    /// # Safety
    ///
    /// `ptr` is a live group that the caller keeps referenced for `'a`.
    #[allow(dead_code)] // Used by IOMMU backend modules only.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::iommu_group) -> &'a Self {
        // CAST: `IommuGroup` is `#[repr(transparent)]` over `Opaque<iommu_group>`, itself
        // transparent over the C struct.
        // SAFETY: Live and referenced for `'a` (caller contract).
        unsafe { &*ptr.cast::<Self>() }
    }

    /// The `struct iommu_group` behind `self`, for calls that take it.
    pub(crate) fn as_raw(&self) -> *mut bindings::iommu_group {
        self.0.get()
    }

    /// The group's number, as in `/sys/kernel/iommu_groups/<id>` and `/dev/vfio/<id>`.
    pub(crate) fn id(&self) -> u32 {
        // SAFETY: `self` is a live group (type invariant).
        let id = unsafe { bindings::iommu_group_id(self.0.get()) };
        // CAST: group ids come from an IDA and are never negative.
        id as u32
    }
}
