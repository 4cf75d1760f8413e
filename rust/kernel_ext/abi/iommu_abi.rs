// SPDX-License-Identifier: GPL-2.0

//! Rust mirror of `include/rvfio/iommu_abi.h`, the ABI between vfio.ko and IOMMU backend
//! modules, and [`IommuBackend`], what a container asks of its backend on either side of it.
//!
//! The layout is checked at compile time on both sides against the same numbers: here with
//! `const` assertions, in C by `static_assert`s in `rust/vfio/exports.c`.

use core::mem::offset_of;
use kernel::{
    bindings,
    device::Device,
    ffi::{
        c_int,
        c_long,
        c_uint,
        c_ulong,
        c_void, //
    },
    prelude::*,
    sync::aref::ARef,
};

use super::iommu_group::IommuGroup;

/// `RVFIO_IOMMU_ABI_VERSION`.
pub(crate) const ABI_VERSION: u32 = 1;

/// `struct rvfio_iommu_driver_ops`: an IOMMU backend driver's callbacks.
#[repr(C)]
pub(crate) struct RawIommuDriverOps {
    /// Must be [`ABI_VERSION`].
    pub(crate) abi_version: u32,
    /// The backend's module, held while a backend of it is open and around every call.
    pub(crate) owner: *mut bindings::module,
    /// `VFIO_CHECK_EXTENSION` of a container without a backend.
    pub(crate) offers: Option<unsafe extern "C" fn(extension: c_ulong) -> bool>,
    /// `VFIO_SET_IOMMU`: a new backend, or an `ERR_PTR`.
    pub(crate) open: Option<unsafe extern "C" fn(iommu_type: c_ulong) -> *mut c_void>,
    /// Drops a backend `open` returned.
    pub(crate) release: Option<unsafe extern "C" fn(backend: *mut c_void)>,
    /// `VFIO_CHECK_EXTENSION` of a container set to the backend.
    pub(crate) check_extension:
        Option<unsafe extern "C" fn(backend: *mut c_void, extension: c_ulong) -> bool>,
    /// Adds a group.
    pub(crate) attach_group: Option<
        unsafe extern "C" fn(
            backend: *mut c_void,
            group: *mut bindings::iommu_group,
            dev: *mut bindings::device,
        ) -> c_int,
    >,
    /// Removes a group.
    pub(crate) detach_group:
        Option<unsafe extern "C" fn(backend: *mut c_void, group: *mut bindings::iommu_group)>,
    /// A container ioctl the core does not answer.
    pub(crate) ioctl:
        Option<unsafe extern "C" fn(backend: *mut c_void, cmd: c_uint, arg: c_ulong) -> c_long>,
}

// SAFETY: A table of function pointers and a module pointer, shared read-only.
unsafe impl Sync for RawIommuDriverOps {}

// The numbers `rust/vfio/exports.c` asserts for the C definition.
const _: () = {
    assert!(offset_of!(RawIommuDriverOps, owner) == 8);
    assert!(offset_of!(RawIommuDriverOps, offers) == 16);
    assert!(offset_of!(RawIommuDriverOps, open) == 24);
    assert!(offset_of!(RawIommuDriverOps, release) == 32);
    assert!(offset_of!(RawIommuDriverOps, check_extension) == 40);
    assert!(offset_of!(RawIommuDriverOps, attach_group) == 48);
    assert!(offset_of!(RawIommuDriverOps, detach_group) == 56);
    assert!(offset_of!(RawIommuDriverOps, ioctl) == 64);
    assert!(core::mem::size_of::<RawIommuDriverOps>() == 72);
};

/// A container's IOMMU backend, once `VFIO_SET_IOMMU` chose it: it gets the container's
/// groups and every ioctl the container does not answer itself. The container serialises
/// attaches and detaches; queries and ioctls may run concurrently with them.
pub(crate) trait IommuBackend: Send + Sync {
    /// `VFIO_CHECK_EXTENSION` of a container set to this backend.
    fn check_extension(&self, extension: usize) -> bool;

    /// Adds `group`, whose DMA ownership the caller holds; `dev` is one of its devices.
    fn attach_group(&self, group: &ARef<IommuGroup>, dev: &Device) -> Result;

    /// Removes a group added by [`IommuBackend::attach_group`].
    fn detach_group(&self, group: &IommuGroup);

    /// An ioctl of the container that is the backend's (`-ENOTTY` for one it does not know).
    fn ioctl(&self, cmd: u32, arg: usize) -> Result<isize>;
}
