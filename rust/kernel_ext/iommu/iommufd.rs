// SPDX-License-Identifier: GPL-2.0

//! iommufd (`/dev/iommu`) as the IOMMU context of a device opened through its cdev: a
//! context taken from userspace's fd, and a device bound to it, whose DMA iommufd then owns
//! and attaches to the page tables userspace names (`iommufd_helpers.c`, upstream's
//! `vfio_iommufd_physical_*` in `drivers/vfio/iommufd.c`).

use core::ptr::NonNull;
use kernel::{
    device::Device,
    error::{
        from_err_ptr,
        to_result, //
    },
    fs::LocalFile,
    prelude::*,
    sync::aref::ARef,
};

use super::{
    iommu_group::IommuGroup,
    raw::device_ptr, //
};

/// `struct iommufd_ctx`, only ever behind a pointer.
#[repr(C)]
struct RawCtx {
    _opaque: [u8; 0],
}

/// `struct iommufd_device`, only ever behind a pointer.
#[repr(C)]
struct RawDevice {
    _opaque: [u8; 0],
}

// `struct device` has zero-sized members that trip the lint; only pointers cross here.
#[allow(improper_ctypes)]
extern "C" {
    fn rvfio_iommufd_available() -> bool;
    fn rvfio_iommufd_ctx_from_fd(fd: i32) -> *mut RawCtx;
    fn rvfio_iommufd_ctx_from_file(file: *mut kernel::bindings::file) -> *mut RawCtx;
    fn rvfio_iommufd_ctx_get(ctx: *mut RawCtx);
    fn rvfio_iommufd_ctx_put(ctx: *mut RawCtx);
    fn rvfio_iommufd_ctx_has_group(
        ctx: *mut RawCtx,
        group: *mut kernel::bindings::iommu_group,
    ) -> bool;
    fn rvfio_iommufd_compat_ioas_create(ctx: *mut RawCtx) -> i32;
    fn rvfio_iommufd_compat_ioas_get_id(ctx: *mut RawCtx, ioas_id: *mut u32) -> i32;
    fn rvfio_iommufd_compat_set_no_iommu(ctx: *mut RawCtx) -> i32;
    fn rvfio_iommufd_device_bind(
        ctx: *mut RawCtx,
        dev: *mut kernel::bindings::device,
        id: *mut u32,
    ) -> *mut RawDevice;
    fn rvfio_iommufd_device_unbind(idev: *mut RawDevice);
    fn rvfio_iommufd_device_attach(
        idev: *mut RawDevice,
        pasid_set: bool,
        pasid: u32,
        pt_id: *mut u32,
    ) -> i32;
    fn rvfio_iommufd_device_replace(
        idev: *mut RawDevice,
        pasid_set: bool,
        pasid: u32,
        pt_id: *mut u32,
    ) -> i32;
    fn rvfio_iommufd_device_detach(idev: *mut RawDevice, pasid_set: bool, pasid: u32);
}

/// Whether the kernel has iommufd (`CONFIG_IOMMUFD`): without it no device can be bound.
pub(crate) fn available() -> bool {
    // SAFETY: No precondition.
    unsafe { rvfio_iommufd_available() }
}

/// An iommufd context, referenced.
///
/// # Invariants
///
/// `ctx` is a context reference of ours (from `iommufd_ctx_from_fd()`, `_from_file()` or
/// `iommufd_ctx_get()`), put once, in [`Drop`].
pub(crate) struct IommufdCtx {
    ctx: NonNull<RawCtx>,
}

impl IommufdCtx {
    /// The context of the iommufd that is `fd` in the calling process: -EBADF if there is
    /// no such file, -EBADFD if it is not an iommufd, -EOPNOTSUPP without iommufd.
    pub(crate) fn from_fd(fd: i32) -> Result<Self> {
        // SAFETY: No precondition; returns a reference or an `ERR_PTR`.
        let ctx = from_err_ptr(unsafe { rvfio_iommufd_ctx_from_fd(fd) })?;
        // INVARIANT: a reference just taken, checked non-error.
        Ok(Self {
            ctx: NonNull::new(ctx).ok_or(EBADF)?,
        })
    }

    /// The context `file` is, if it is an iommufd (-EBADFD otherwise, -EOPNOTSUPP without
    /// iommufd).
    pub(crate) fn from_file(file: &LocalFile) -> Result<Self> {
        // SAFETY: `file` is live for the call; returns a reference or an `ERR_PTR`.
        let ctx = from_err_ptr(unsafe { rvfio_iommufd_ctx_from_file(file.as_ptr()) })?;
        // INVARIANT: a reference just taken, checked non-error.
        Ok(Self {
            ctx: NonNull::new(ctx).ok_or(EBADFD)?,
        })
    }

    /// Whether this is the same context as `other`.
    pub(crate) fn is(&self, other: &IommufdCtx) -> bool {
        self.ctx == other.ctx
    }

    /// Whether a device of `group` is bound to the context, which then owns the group.
    pub(crate) fn has_group(&self, group: &IommuGroup) -> bool {
        // SAFETY: A live context (type invariant) and a live group, borrowed for the call.
        unsafe { rvfio_iommufd_ctx_has_group(self.ctx.as_ptr(), group.as_raw()) }
    }

    /// Gives the context the IOAS that VFIO's compatibility ioctls on it (`/dev/iommu` used
    /// as a container) map into, unless it has one.
    pub(crate) fn create_compat_ioas(&self) -> Result {
        // SAFETY: A live context (type invariant).
        to_result(unsafe { rvfio_iommufd_compat_ioas_create(self.ctx.as_ptr()) })
    }

    /// The id of the context's compatibility IOAS (-ENODEV without one).
    pub(crate) fn compat_ioas_id(&self) -> Result<u32> {
        let mut id = 0;
        // SAFETY: A live context (type invariant) and a valid out-pointer.
        to_result(unsafe { rvfio_iommufd_compat_ioas_get_id(self.ctx.as_ptr(), &mut id) })?;
        Ok(id)
    }

    /// Puts the context's compatibility mode in no-IOMMU mode, for no-IOMMU groups: it
    /// then maps nothing (-EINVAL if it has a compatibility IOAS).
    pub(crate) fn set_compat_no_iommu(&self) -> Result {
        // SAFETY: A live context (type invariant).
        to_result(unsafe { rvfio_iommufd_compat_set_no_iommu(self.ctx.as_ptr()) })
    }
}

impl Clone for IommufdCtx {
    fn clone(&self) -> Self {
        // SAFETY: A live context (type invariant), on which we take another reference.
        unsafe { rvfio_iommufd_ctx_get(self.ctx.as_ptr()) };
        // INVARIANT: the reference just taken.
        Self { ctx: self.ctx }
    }
}

// SAFETY: Context references may be taken, used and put from any thread.
unsafe impl Send for IommufdCtx {}
// SAFETY: `&self` methods are iommufd calls, which lock internally.
unsafe impl Sync for IommufdCtx {}

impl Drop for IommufdCtx {
    fn drop(&mut self) {
        // SAFETY: Our reference (type invariant), put once.
        unsafe { rvfio_iommufd_ctx_put(self.ctx.as_ptr()) };
    }
}

/// What of a device an attach or detach is about: all of its DMA (requests without a
/// PASID), or that tagged with one PASID.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// `IOMMU_NO_PASID`.
    Device,
    /// One PASID.
    Pasid(u32),
}

impl Target {
    /// The C helpers' form.
    fn raw(self) -> (bool, u32) {
        match self {
            Target::Device => (false, 0),
            Target::Pasid(pasid) => (true, pasid),
        }
    }
}

/// A device bound to an iommufd context: iommufd owns its DMA (the bind claimed it from the
/// kernel's DMA API) and userspace's page tables translate what is attached. Dropping it
/// detaches every target (the PASIDs first) and unbinds.
///
/// # Invariants
///
/// `idev` is what `iommufd_device_bind()` returned for `_dev` and is not unbound yet;
/// `attached` holds each target attached to a page table and not detached since, once.
pub(crate) struct BoundDevice {
    idev: NonNull<RawDevice>,
    /// Keeps the device iommufd holds a pointer to.
    _dev: ARef<Device>,
    ctx: IommufdCtx,
    id: u32,
    attached: KVec<Target>,
}

// SAFETY: iommufd's device objects may be used and unbound from any thread; the caller
// serialises the `&mut self` methods.
unsafe impl Send for BoundDevice {}
// SAFETY: `&self` methods only read plain fields.
unsafe impl Sync for BoundDevice {}

impl BoundDevice {
    /// Binds `dev` to `ctx`: -EBUSY if its DMA is owned elsewhere (its group attached to a
    /// container, say), and whatever else iommufd refuses. The binding keeps its own
    /// reference on the context, and so does this value.
    pub(crate) fn bind(ctx: &IommufdCtx, dev: &ARef<Device>) -> Result<Self> {
        let mut id = 0;
        // SAFETY: `ctx` is a live reference (its invariant), `dev` a live device kept by the
        // new binding's `ARef`, and `id` a valid out-pointer.
        let idev = from_err_ptr(unsafe {
            rvfio_iommufd_device_bind(ctx.ctx.as_ptr(), device_ptr(dev), &mut id)
        })?;
        // INVARIANT: just bound, nothing attached.
        Ok(Self {
            idev: NonNull::new(idev).ok_or(ENOMEM)?,
            _dev: dev.clone(),
            ctx: ctx.clone(),
            id,
            attached: KVec::new(),
        })
    }

    /// The device's id in its iommufd context (`out_devid`).
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// The context the device is bound to.
    pub(crate) fn ctx(&self) -> &IommufdCtx {
        &self.ctx
    }

    /// Attaches `target` to the page table (an IOAS or a HWPT) `pt_id` of the context, in
    /// place of the one it is attached to if any; returns the id of what was attached
    /// (iommufd picks or makes a HWPT for an IOAS).
    pub(crate) fn attach(&mut self, target: Target, pt_id: u32) -> Result<u32> {
        let (pasid_set, pasid) = target.raw();
        let mut pt_id = pt_id;
        if self.attached.contains(&target) {
            // SAFETY: `idev` is bound and `target` attached (type invariant).
            to_result(unsafe {
                rvfio_iommufd_device_replace(self.idev.as_ptr(), pasid_set, pasid, &mut pt_id)
            })?;
            return Ok(pt_id);
        }
        // Room first: once attached, the target must be recorded.
        self.attached.reserve(1, GFP_KERNEL)?;
        // SAFETY: `idev` is bound (type invariant) and `target` not attached.
        to_result(unsafe {
            rvfio_iommufd_device_attach(self.idev.as_ptr(), pasid_set, pasid, &mut pt_id)
        })?;
        // INVARIANT: recorded as attached; the room was reserved above.
        self.attached
            .push_within_capacity(target)
            .map_err(|_| ENOMEM)?;
        Ok(pt_id)
    }

    /// Detaches `target`; nothing happens if it is not attached (as upstream).
    pub(crate) fn detach(&mut self, target: Target) {
        if let Some(index) = self.attached.iter().position(|&t| t == target) {
            self.detach_at(index);
        }
    }

    /// Detaches the target recorded at `index` of `attached`.
    fn detach_at(&mut self, index: usize) {
        let Ok(target) = self.attached.remove(index) else {
            return;
        };
        let (pasid_set, pasid) = target.raw();
        // SAFETY: `idev` is bound and `target` was attached (type invariant); it is no longer
        // recorded.
        unsafe { rvfio_iommufd_device_detach(self.idev.as_ptr(), pasid_set, pasid) };
    }
}

impl Drop for BoundDevice {
    fn drop(&mut self) {
        // As upstream's `vfio_iommufd_physical_unbind()`: the PASIDs, then the device.
        while let Some(index) = self
            .attached
            .iter()
            .position(|&t| t != Target::Device)
            .or_else(|| (!self.attached.is_empty()).then_some(0))
        {
            self.detach_at(index);
        }
        // SAFETY: Bound (type invariant) and nothing attached any more; unbound once, here.
        unsafe { rvfio_iommufd_device_unbind(self.idev.as_ptr()) };
    }
}
