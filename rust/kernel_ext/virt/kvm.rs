// SPDX-License-Identifier: GPL-2.0

//! The VM a VFIO file belongs to, as KVM's kvm-vfio device says (`vfio_file_set_kvm()`),
//! and references on it for the devices opened meanwhile (upstream's
//! `vfio_device_get_kvm_safe()` / `vfio_device_put_kvm()`).
//!
//! VFIO must not depend on kvm.ko: KVM finds VFIO's exports with `symbol_get()`, and a
//! host may run VFIO without KVM. So, as upstream, the reference is taken and dropped
//! through functions looked up with `symbol_get()` too, and the module providing
//! `kvm_put_kvm()` stays referenced while a reference needs it.

use core::ptr::NonNull;
use kernel::{
    ffi::{
        c_char,
        c_void, //
    },
    new_spinlock,
    prelude::*,
    sync::SpinLock,
};

extern "C" {
    fn __symbol_get(symbol: *const c_char) -> *mut c_void;
    #[cfg(CONFIG_MODULE_UNLOAD)]
    fn __symbol_put(symbol: *const c_char);
}

/// `struct kvm`, only ever handled by pointer.
#[repr(C)]
pub(crate) struct RawKvm {
    _opaque: [u8; 0],
}

/// A VM as KVM named it to `vfio_file_set_kvm()`: not referenced by us.
///
/// # Invariants
///
/// Points to a VM that KVM keeps allocated until it names another one (or none) for the
/// same file: its kvm-vfio device clears the association before the VM is freed.
#[derive(Clone, Copy)]
pub(crate) struct KvmHandle(NonNull<RawKvm>);

// SAFETY: A VM pointer is only compared and handed back to KVM's thread-safe reference
// counting.
unsafe impl Send for KvmHandle {}

impl KvmHandle {
    /// The VM `kvm` (`None` for null).
    ///
    /// # Safety
    ///
    /// `kvm` is null or what KVM passed to `vfio_file_set_kvm()` for a file, and the handle
    /// is only kept in that file's [`KvmSlot`].
    pub(crate) unsafe fn from_raw(kvm: *mut RawKvm) -> Option<Self> {
        // INVARIANT: KVM's promise for the pointers it passes (caller contract).
        NonNull::new(kvm).map(Self)
    }
}

/// Where a group (or device) file keeps the VM KVM associated it with.
///
/// # Invariants
///
/// `kvm` holds the handle KVM last set for the owning file; KVM clears it before the VM
/// goes, so a handle read under the lock names a VM that is still allocated.
#[pin_data]
pub(crate) struct KvmSlot {
    #[pin]
    kvm: SpinLock<Option<KvmHandle>>,
}

impl KvmSlot {
    /// A slot with no VM.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            kvm <- new_spinlock!(None),
        })
    }

    /// Records the VM KVM set for the file (or its removal).
    pub(crate) fn set(&self, kvm: Option<KvmHandle>) {
        *self.kvm.lock() = kvm;
    }

    /// A reference on the recorded VM, unless there is none or it is being destroyed.
    pub(crate) fn reference(&self) -> Option<KvmRef> {
        let kvm = self.kvm.lock();
        // The lock keeps KVM from clearing the handle, and so from freeing the VM, while
        // the reference is taken (type invariant).
        KvmRef::get_safe((*kvm)?)
    }
}

/// A function of another module looked up by name, with that module referenced.
///
/// # Invariants
///
/// `addr` is the address `__symbol_get(name)` returned, whose module reference is held
/// until [`Drop`] puts it.
struct KernelSymbol {
    name: &'static CStr,
    addr: NonNull<c_void>,
}

impl KernelSymbol {
    /// Looks `name` (a GPL export) up, if its module is loaded (or it is built in).
    fn get(name: &'static CStr) -> Option<Self> {
        // SAFETY: `name` is a NUL-terminated string; a non-null result holds a module
        // reference.
        let addr = NonNull::new(unsafe { __symbol_get(name.as_char_ptr()) })?;
        // INVARIANT: just looked up, with its module referenced.
        Some(Self { name, addr })
    }
}

impl Drop for KernelSymbol {
    fn drop(&mut self) {
        #[cfg(CONFIG_MODULE_UNLOAD)]
        // SAFETY: Puts the module reference `get` took (type invariant), once.
        unsafe {
            __symbol_put(self.name.as_char_ptr())
        };
    }
}

/// `kvm_get_kvm_safe()` and `kvm_put_kvm()` of `include/linux/kvm_host.h`.
type KvmGetSafe = unsafe extern "C" fn(kvm: *mut RawKvm) -> bool;
type KvmPut = unsafe extern "C" fn(kvm: *mut RawKvm);

/// A counted reference on a VM (its `users_count`), as a device opened while the VM is
/// associated with its group holds until its last close.
///
/// # Invariants
///
/// `kvm` holds one `users_count` reference, dropped once, in [`Drop`], through `put`,
/// which is `kvm_put_kvm` with its module kept loaded.
pub(crate) struct KvmRef {
    kvm: NonNull<RawKvm>,
    put: KernelSymbol,
}

// SAFETY: KVM's reference counting is thread safe; dropping may happen on any thread.
unsafe impl Send for KvmRef {}

impl KvmRef {
    /// Takes a reference on `kvm` unless its last one is already gone (KVM is destroying
    /// it); `None` too when KVM's functions cannot be found. The caller keeps `kvm` from
    /// being freed for the call (see [`KvmSlot::reference`]).
    fn get_safe(kvm: KvmHandle) -> Option<Self> {
        let put = KernelSymbol::get(c"kvm_put_kvm")?;
        let get_safe = KernelSymbol::get(c"kvm_get_kvm_safe")?;
        // SAFETY: The address of `kvm_get_kvm_safe`, whose type this is.
        let get_safe_fn: KvmGetSafe = unsafe { core::mem::transmute(get_safe.addr.as_ptr()) };
        // SAFETY: `kvm` is allocated for the call (caller contract); the function takes a
        // reference unless the count already dropped to zero.
        if !unsafe { get_safe_fn(kvm.0.as_ptr()) } {
            return None;
        }
        // INVARIANT: the reference was just taken; `put` is `kvm_put_kvm`, referenced.
        Some(Self { kvm: kvm.0, put })
    }
}

impl Drop for KvmRef {
    fn drop(&mut self) {
        // SAFETY: The address of `kvm_put_kvm`, whose type this is (type invariant).
        let put: KvmPut = unsafe { core::mem::transmute(self.put.addr.as_ptr()) };
        // SAFETY: Drops the reference this value holds, once (type invariant). This may
        // destroy the VM, whose kvm-vfio device then clears the slots it set.
        unsafe { put(self.kvm.as_ptr()) };
    }
}
