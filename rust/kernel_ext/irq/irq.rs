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

/// How a line is requested.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum IrqSharing {
    /// Shared with other devices' handlers.
    Shared,
    /// Exclusive, enabled once requested.
    Exclusive,
    /// Exclusive, left disabled once requested (`IRQF_NO_AUTOEN`): [`enable`] it.
    ExclusiveDisabled,
}

impl<T: IrqHandler> IrqRegistration<T> {
    /// Requests `irq` for `handler`, as `sharing` says.
    pub(crate) fn new(irq: u32, sharing: IrqSharing, name: CString, handler: T) -> Result<Self> {
        let handler = KBox::pin(handler, GFP_KERNEL)?;
        let flags = match sharing {
            IrqSharing::Shared => bindings::IRQF_SHARED,
            IrqSharing::Exclusive => 0,
            IrqSharing::ExclusiveDisabled => bindings::IRQF_NO_AUTOEN,
        };
        // CAST: widening, `unsigned long` is 64 bits here.
        let flags = flags as c_ulong;
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

/// Disables interrupt line `irq` without waiting for running handlers (`disable_irq_nosync`);
/// callable in hard-IRQ context. For a line requested exclusively, masked at the interrupt
/// chip; each call must be balanced by one [`enable`].
pub(crate) fn disable_nosync(irq: u32) {
    // SAFETY: Any line number is accepted (unknown ones are ignored).
    unsafe { bindings::disable_irq_nosync(irq) }
}

/// Undoes one [`disable_nosync`] (`enable_irq`).
pub(crate) fn enable(irq: u32) {
    // SAFETY: As in `disable_nosync`.
    unsafe { bindings::enable_irq(irq) }
}

/// Makes `disable_irq*()` of `irq` mask the line at once at the interrupt chip rather than
/// lazily when it next fires (`IRQ_DISABLE_UNLAZY`), or lazily again; what a line masked
/// by its handler, with no other way to quiesce the device, needs.
pub(crate) fn set_disable_unlazy(irq: u32, unlazy: bool) {
    // CAST: a status flag, widening.
    let flag = bindings::IRQ_DISABLE_UNLAZY as c_ulong;
    let (clear, set) = if unlazy { (0, flag) } else { (flag, 0) };
    // SAFETY: Any line number is accepted (unknown ones are ignored).
    unsafe { bindings::irq_modify_status(irq, clear, set) }
}
