// SPDX-License-Identifier: GPL-2.0

//! Calling a bus driver back through the device ABI (`include/rvfio/device_abi.h`).

use kernel::{
    bindings,
    ffi::c_void,
    prelude::*,
    uaccess::UserPtr, //
};

use crate::uuid::Uuid;

use super::{
    device_abi::{
        RawDeviceOps,
        ABI_VERSION, //
    },
    file_ops::MmapVma,
};

/// The callbacks and cookie a bus driver registered a device with.
///
/// # Invariants
///
/// `ops` points to a [`RawDeviceOps`] of [`ABI_VERSION`], and `ops` and `cookie` stay valid
/// until `rvfio_unregister_device()` for the device has returned. The core guarantees that
/// no callback runs after that: unregistration waits for every device fd to close.
pub(crate) struct BusCallbacks {
    ops: *const RawDeviceOps,
    cookie: *mut c_void,
}

// SAFETY: The bus driver's callbacks may be called from any thread (ABI contract).
unsafe impl Send for BusCallbacks {}
// SAFETY: Same: the ABI requires the callbacks to be thread safe.
unsafe impl Sync for BusCallbacks {}

impl BusCallbacks {
    /// Checks and wraps what a bus driver passed to `rvfio_register_device()`.
    ///
    /// # Safety
    ///
    /// `ops`, if not NULL, must be readable, and `ops` and `cookie` must stay valid until the
    /// device is unregistered.
    pub(crate) unsafe fn new(ops: *const RawDeviceOps, cookie: *mut c_void) -> Result<Self> {
        if ops.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: `ops` is non-null and readable (caller contract).
        if unsafe { (*ops).abi_version } != ABI_VERSION {
            return Err(EINVAL);
        }
        // INVARIANT: version checked; validity is the caller's contract.
        Ok(Self { ops, cookie })
    }

    /// The callback table.
    fn ops(&self) -> &RawDeviceOps {
        // SAFETY: Valid while the device is registered (type invariant).
        unsafe { &*self.ops }
    }

    /// First open of a device fd: pins the bus driver's module (-ENODEV while it is being
    /// removed) and opens the device. Each success must be paired with one
    /// [`BusCallbacks::close_device`].
    pub(crate) fn open_device(&self) -> Result {
        let owner = self.ops().owner;
        // SAFETY: `owner` is the bus driver's live module (NULL for built-in code).
        if !owner.is_null() && !unsafe { bindings::try_module_get(owner) } {
            return Err(ENODEV);
        }
        let opened = match self.ops().open_device {
            // SAFETY: A registered device's callback with its cookie (type invariant).
            Some(open) => kernel::error::to_result(unsafe { open(self.cookie) }),
            None => Ok(()),
        };
        if opened.is_err() && !owner.is_null() {
            // SAFETY: Drops the reference taken above.
            unsafe { bindings::module_put(owner) };
        }
        opened
    }

    /// Last close of a device fd: closes the device and unpins the bus driver's module.
    pub(crate) fn close_device(&self) {
        if let Some(close) = self.ops().close_device {
            // SAFETY: As in `open_device`.
            unsafe { close(self.cookie) };
        }
        let owner = self.ops().owner;
        if !owner.is_null() {
            // SAFETY: Drops the reference `open_device` took (pairing is the caller's
            // contract, kept by the core's open count).
            unsafe { bindings::module_put(owner) };
        }
    }

    /// A device ioctl; -EINVAL without the callback, as upstream.
    pub(crate) fn ioctl(&self, cmd: u32, arg: usize) -> Result<isize> {
        let ioctl = self.ops().ioctl.ok_or(EINVAL)?;
        // SAFETY: As in `open_device`; `arg` is the caller's, passed through unchanged.
        let ret = unsafe { ioctl(self.cookie, cmd, arg) };
        if ret < 0 {
            // CAST: negative returns are errnos.
            return Err(Error::from_errno(ret as i32));
        }
        Ok(ret)
    }

    /// `pread()`; -EINVAL without the callback, as upstream.
    pub(crate) fn read(&self, buf: UserPtr, len: usize, pos: i64) -> Result<usize> {
        let read = self.ops().read.ok_or(EINVAL)?;
        // SAFETY: As in `open_device`; `buf` is a user pointer, checked by the callee's
        // user-copy routines.
        let ret = unsafe { read(self.cookie, buf.as_mut_ptr().cast(), len, pos) };
        byte_count(ret)
    }

    /// `pwrite()`; -EINVAL without the callback, as upstream.
    pub(crate) fn write(&self, buf: UserPtr, len: usize, pos: i64) -> Result<usize> {
        let write = self.ops().write.ok_or(EINVAL)?;
        // SAFETY: As in `read`.
        let ret = unsafe { write(self.cookie, buf.as_mut_ptr().cast_const().cast(), len, pos) };
        byte_count(ret)
    }

    /// `mmap()`; -EINVAL without the callback, as upstream.
    pub(crate) fn mmap(&self, vma: &MmapVma<'_>) -> Result {
        let mmap = self.ops().mmap.ok_or(EINVAL)?;
        // SAFETY: As in `open_device`; the VMA is that of the `mmap()` call in progress.
        kernel::error::to_result(unsafe { mmap(self.cookie, vma.as_ptr()) })
    }

    /// Checks a `GET_DEVICE_FD` VF token (`None`: none given). Without the callback, any
    /// token is -EINVAL (the device is not part of SR-IOV), as upstream.
    pub(crate) fn match_token(&self, uuid: Option<&Uuid>) -> Result {
        match self.ops().match_token {
            // SAFETY: As in `open_device`; `uuid` is NULL or 16 readable bytes for the call.
            Some(check) => kernel::error::to_result(unsafe {
                check(
                    self.cookie,
                    uuid.map_or(core::ptr::null(), |u| core::ptr::from_ref(u).cast()),
                )
            }),
            None if uuid.is_some() => Err(EINVAL),
            None => Ok(()),
        }
    }

    /// Asks the bus driver to get userspace to release the device (`count`-th time).
    pub(crate) fn request(&self, count: u32) {
        if let Some(request) = self.ops().request {
            // SAFETY: As in `open_device`.
            unsafe { request(self.cookie, count) };
        }
    }
}

/// A `ssize_t` callback result as a byte count.
fn byte_count(ret: isize) -> Result<usize> {
    if ret < 0 {
        // CAST: negative returns are errnos.
        return Err(Error::from_errno(ret as i32));
    }
    // CAST: non-negative.
    Ok(ret as usize)
}
