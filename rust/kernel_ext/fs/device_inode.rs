// SPDX-License-Identifier: GPL-2.0

//! The per-device inode whose address space holds every mmap of a device's fds, so that
//! all of them can be revoked at once (`rust/kernel_ext/fs/device_inode_fs.c`).

use core::ptr::NonNull;
use kernel::{
    bindings,
    error::from_err_ptr,
    fs::File,
    prelude::*, //
};

// `struct inode`/`struct file` have zero-sized members that trip the lint; only pointers
// cross here.
#[allow(improper_ctypes)]
extern "C" {
    fn rvfio_device_inode_new() -> *mut bindings::inode;
    fn rvfio_device_inode_put(inode: *mut bindings::inode);
    fn rvfio_device_inode_attach(inode: *mut bindings::inode, file: *mut bindings::file);
    fn rvfio_device_inode_unmap(inode: *mut bindings::inode, start: i64, len: i64);
}

/// An inode of rvfio's pseudo filesystem, owned by one registered device.
///
/// # Invariants
///
/// `inode` is a live inode from `rvfio_device_inode_new()`, put exactly once, in [`Drop`].
pub(crate) struct DeviceInode {
    inode: NonNull<bindings::inode>,
}

// SAFETY: The inode is reference counted and its address space has its own locking.
unsafe impl Send for DeviceInode {}
// SAFETY: Same; `&self` methods only zap mappings or attach files, both thread safe.
unsafe impl Sync for DeviceInode {}

impl DeviceInode {
    /// A new inode.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: No preconditions; returns an inode reference or an `ERR_PTR`.
        let inode = from_err_ptr(unsafe { rvfio_device_inode_new() })?;
        // INVARIANT: a fresh reference, checked non-error.
        Ok(Self {
            inode: NonNull::new(inode).ok_or(ENOMEM)?,
        })
    }

    /// Makes `file`'s mmaps live in this inode's address space. Only for a file that is not
    /// installed in any fd table yet, so that nothing can have mapped it.
    pub(crate) fn attach(&self, file: &File) {
        // SAFETY: Both are live; the file is not visible to userspace yet (caller contract
        // stated above), so changing its mapping races with nothing.
        unsafe { rvfio_device_inode_attach(self.inode.as_ptr(), file.as_ptr()) };
    }

    /// Zaps every user mapping of the file range `[start, start + len)`.
    pub(crate) fn unmap(&self, start: u64, len: u64) {
        // CAST: region offsets are below 2^63 (index << 40 with at most 2^23 indexes).
        // SAFETY: The inode is live (type invariant).
        unsafe { rvfio_device_inode_unmap(self.inode.as_ptr(), start as i64, len as i64) };
    }
}

impl Drop for DeviceInode {
    fn drop(&mut self) {
        // SAFETY: Put once, here (type invariant).
        unsafe { rvfio_device_inode_put(self.inode.as_ptr()) };
    }
}
