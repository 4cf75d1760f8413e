// SPDX-License-Identifier: GPL-2.0

//! eventfd contexts: how VFIO tells userspace that an interrupt (or a request) happened.

use core::ptr::NonNull;
use kernel::{
    bindings,
    error::from_err_ptr,
    prelude::*,
    sync::Arc, //
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

/// `struct irq_bypass_producer`, allocated by `rust/vfio_pci/helpers.c`.
#[repr(C)]
struct RawBypassProducer {
    _opaque: [u8; 0],
}

extern "C" {
    fn rvfio_irq_bypass_register(
        trigger: *mut bindings::eventfd_ctx,
        irq: kernel::ffi::c_int,
    ) -> *mut RawBypassProducer;
    fn rvfio_irq_bypass_unregister(producer: *mut RawBypassProducer);
}

/// An interrupt announced to the IRQ bypass manager as the source of an eventfd's signals,
/// so that a consumer of the same eventfd (KVM's irqfd) can have the interrupt delivered
/// to its guest directly (posted interrupts). Dropping it withdraws the announcement.
///
/// # Invariants
///
/// `raw` is registered under `trigger`'s context until [`Drop`] unregisters it; the
/// context, the registration's key, is kept alive (and so its address unique) meanwhile.
pub(crate) struct BypassProducer {
    raw: NonNull<RawBypassProducer>,
    _trigger: Arc<EventFd>,
}

// SAFETY: Unregistering may happen on any thread (it takes the manager's mutex).
unsafe impl Send for BypassProducer {}
// SAFETY: No `&self` methods.
unsafe impl Sync for BypassProducer {}

impl BypassProducer {
    /// Announces Linux IRQ `irq` as what signals `trigger`. `Ok(None)` when the kernel has
    /// no bypass manager; -EBUSY when another producer already announced that eventfd.
    pub(crate) fn register(trigger: &Arc<EventFd>, irq: u32) -> Result<Option<Self>> {
        let irq = kernel::ffi::c_int::try_from(irq)?;
        // SAFETY: The context is live (`EventFd` invariant) and stays so while registered:
        // the producer keeps a reference to it.
        let raw = from_err_ptr(unsafe { rvfio_irq_bypass_register(trigger.ctx.as_ptr(), irq) })?;
        // INVARIANT: registered under `trigger`, which the producer keeps.
        Ok(NonNull::new(raw).map(|raw| Self {
            raw,
            _trigger: trigger.clone(),
        }))
    }
}

impl Drop for BypassProducer {
    fn drop(&mut self) {
        // SAFETY: Registered (type invariant); unregistered and freed once, here, before
        // the eventfd reference is dropped.
        unsafe { rvfio_irq_bypass_unregister(self.raw.as_ptr()) };
    }
}

/// What runs when a [`Virqfd`]'s eventfd is signalled.
pub(crate) trait VirqfdHandler: Send + Sync + 'static {
    /// The eventfd was signalled (process context; several signals may coalesce).
    fn fire(&self);
}

/// `struct rvfio_virqfd` of `rust/vfio_pci/helpers.c`.
#[repr(C)]
struct RawVirqfd {
    _opaque: [u8; 0],
}

extern "C" {
    fn rvfio_virqfd_new(
        fd: kernel::ffi::c_int,
        fire: unsafe extern "C" fn(data: *mut kernel::ffi::c_void),
        data: *mut kernel::ffi::c_void,
    ) -> *mut RawVirqfd;
    fn rvfio_virqfd_free(virqfd: *mut RawVirqfd);
    fn rvfio_virqfd_closed(virqfd: *mut RawVirqfd) -> bool;
}

/// An eventfd that userspace (or KVM) signals to make the kernel act: `handler` runs in a
/// work item on each signal (upstream's virqfd, used for the INTx unmask eventfd).
///
/// # Invariants
///
/// `raw` listens on the eventfd with `Arc::as_ptr(&_handler)` as data until [`Drop`] frees
/// it, which waits for a running callback; `_handler`, a field, is released only after that.
pub(crate) struct Virqfd<T: VirqfdHandler> {
    raw: NonNull<RawVirqfd>,
    _handler: Arc<T>,
}

// SAFETY: Freeing may happen on any thread; the handler is `Send + Sync`.
unsafe impl<T: VirqfdHandler> Send for Virqfd<T> {}
// SAFETY: No `&self` methods.
unsafe impl<T: VirqfdHandler> Sync for Virqfd<T> {}

impl<T: VirqfdHandler> Virqfd<T> {
    /// Runs `handler` whenever the caller's eventfd `fd` is signalled (at once if it already
    /// is): -EBADF for a bad fd, -EINVAL if it is not an eventfd.
    pub(crate) fn new(fd: i32, handler: Arc<T>) -> Result<Self> {
        let data = Arc::as_ptr(&handler).cast_mut().cast();
        // SAFETY: `data` stays valid until `Drop` has freed the virqfd (type invariant).
        let raw = from_err_ptr(unsafe { rvfio_virqfd_new(fd, Self::fire, data) })?;
        // INVARIANT: listening with `handler`'s address.
        Ok(Self {
            raw: NonNull::new(raw).ok_or(ENOMEM)?,
            _handler: handler,
        })
    }

    /// Whether the eventfd has been closed: the virqfd is dead (it never fires again), as
    /// upstream's, which releases itself then.
    pub(crate) fn is_closed(&self) -> bool {
        // SAFETY: Live until `Drop` (type invariant).
        unsafe { rvfio_virqfd_closed(self.raw.as_ptr()) }
    }

    /// # Safety
    ///
    /// Called by the work item with the `data` given in [`Self::new`].
    unsafe extern "C" fn fire(data: *mut kernel::ffi::c_void) {
        // SAFETY: `data` is the handler, alive until the virqfd is freed (type invariant).
        unsafe { &*data.cast::<T>() }.fire();
    }
}

impl<T: VirqfdHandler> Drop for Virqfd<T> {
    fn drop(&mut self) {
        // SAFETY: Live (type invariant); freed once, here, before `handler` is released.
        unsafe { rvfio_virqfd_free(self.raw.as_ptr()) };
    }
}
