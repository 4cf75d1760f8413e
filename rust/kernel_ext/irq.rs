// SPDX-License-Identifier: GPL-2.0

//! Interrupt handlers installed from ioctls, long after probe.
//!
//! 7.3's `irq::Registration` ties a handler to a `&Device<Bound>` borrowed in probe; VFIO
//! installs and replaces handlers whenever userspace asks, so this is a small owner of one
//! `request_irq()` instead.

use core::pin::Pin;
use kernel::{
    bindings,
    ffi::{
        c_int,
        c_ulong,
        c_void, //
    },
    prelude::*,
    str::CString,
};

/// What runs in hard-IRQ context when the interrupt fires.
pub(crate) trait IrqHandler: Send + Sync + 'static {
    /// Handles the interrupt; whether it was ours (`IRQ_HANDLED`).
    fn handle(&self) -> bool;
}

/// A requested interrupt line with its handler; dropping it frees the line (waiting for a
/// running handler to finish).
///
/// # Invariants
///
/// `irq` was requested with `handler`'s address as `dev_id` and `name` as its name, and is
/// freed once, in [`Drop`], before either is released.
pub(crate) struct IrqRegistration<T: IrqHandler> {
    irq: u32,
    handler: Pin<KBox<T>>,
    _name: CString,
}

impl<T: IrqHandler> IrqRegistration<T> {
    /// Requests `irq` (shared with other devices when `shared`) for `handler`.
    pub(crate) fn new(irq: u32, shared: bool, name: CString, handler: T) -> Result<Self> {
        let handler = KBox::pin(handler, GFP_KERNEL)?;
        // CAST: widening, `unsigned long` is 64 bits here.
        let flags = (if shared { bindings::IRQF_SHARED } else { 0 }) as c_ulong;
        let dev_id = core::ptr::from_ref::<T>(&handler)
            .cast_mut()
            .cast::<c_void>();
        // SAFETY: `handler` is pinned and lives until `Drop` has freed the line; `name`
        // too (moved into `Self`, its heap buffer does not move).
        kernel::error::to_result(unsafe {
            bindings::request_irq(
                irq,
                Some(Self::trampoline),
                flags,
                name.as_char_ptr(),
                dev_id,
            )
        })?;
        // INVARIANT: requested just now with these.
        Ok(Self {
            irq,
            handler,
            _name: name,
        })
    }

    /// The handler.
    pub(crate) fn handler(&self) -> &T {
        &self.handler
    }

    /// # Safety
    ///
    /// Called by the IRQ core with the `dev_id` given in [`Self::new`].
    unsafe extern "C" fn trampoline(_irq: c_int, dev_id: *mut c_void) -> bindings::irqreturn_t {
        // SAFETY: `dev_id` is the pinned handler, live until the line is freed, which waits
        // for running handlers.
        let handler = unsafe { &*dev_id.cast::<T>() };
        if handler.handle() {
            bindings::irqreturn::IRQ_HANDLED
        } else {
            bindings::irqreturn::IRQ_NONE
        }
    }
}

impl<T: IrqHandler> Drop for IrqRegistration<T> {
    fn drop(&mut self) {
        let dev_id = core::ptr::from_ref::<T>(&self.handler)
            .cast_mut()
            .cast::<c_void>();
        // SAFETY: Requested with this `dev_id` (type invariant); freed once, here.
        unsafe { bindings::free_irq(self.irq, dev_id) };
    }
}
