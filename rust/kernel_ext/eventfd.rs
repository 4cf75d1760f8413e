// SPDX-License-Identifier: GPL-2.0

//! eventfd contexts: how VFIO tells userspace that an interrupt (or a request) happened.

use core::ptr::NonNull;
use kernel::{
    bindings,
    error::from_err_ptr,
    prelude::*, //
};

/// A reference to the eventfd context behind a user's fd.
///
/// # Invariants
///
/// `ctx` holds one reference on a live eventfd context, dropped once, in [`Drop`].
pub(crate) struct EventFd {
    ctx: NonNull<bindings::eventfd_ctx>,
}

// SAFETY: eventfd contexts are reference counted and internally locked.
unsafe impl Send for EventFd {}
// SAFETY: `signal` is safe to call concurrently, from any context.
unsafe impl Sync for EventFd {}

impl EventFd {
    /// The eventfd behind the caller's `fd`: -EBADF if there is no such fd, -EINVAL if it
    /// is not an eventfd.
    pub(crate) fn from_fd(fd: i32) -> Result<Self> {
        // SAFETY: Looks `fd` up in the current task's table; returns a reference or an
        // `ERR_PTR`.
        let ctx = from_err_ptr(unsafe { bindings::eventfd_ctx_fdget(fd) })?;
        // INVARIANT: a fresh reference, checked non-error.
        Ok(Self {
            ctx: NonNull::new(ctx).ok_or(EINVAL)?,
        })
    }

    /// Adds one to the counter and wakes readers. Callable from hard-IRQ context.
    pub(crate) fn signal(&self) {
        // SAFETY: A live context (type invariant).
        unsafe { bindings::eventfd_signal_mask(self.ctx.as_ptr(), 0) };
    }
}

impl Drop for EventFd {
    fn drop(&mut self) {
        // SAFETY: Drops the reference this value holds (type invariant).
        unsafe { bindings::eventfd_ctx_put(self.ctx.as_ptr()) };
    }
}
