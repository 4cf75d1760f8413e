// SPDX-License-Identifier: GPL-2.0

//! Misc devices at a fixed minor with a devtmpfs node name and mode.
//!
//! 7.3's [`MiscDeviceRegistration`] always asks for a dynamic minor and has no node name
//! or mode, but `/dev/vfio/vfio` must be misc minor 196, named `vfio/vfio`, mode 0666.
//! This registration reuses the in-tree file-operations vtable of [`MiscDevice`] (so the
//! open/ioctl/release trampolines stay the kernel's) and only fills in the three fields.

use core::marker::PhantomData;
use kernel::{
    bindings,
    fs::LocalFile,
    miscdevice::{
        MiscDevice,
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    prelude::*,
    types::{
        ForeignOwnable,
        Opaque, //
    }, //
};

/// Where and how a fixed misc device appears.
pub(crate) struct FixedMiscOptions {
    /// Name shown in `/proc/misc`.
    pub(crate) name: &'static CStr,
    /// The reserved misc minor.
    pub(crate) minor: u32,
    /// Node path below `/dev` (may contain a directory).
    pub(crate) nodename: &'static CStr,
    /// Permission bits of the node.
    pub(crate) mode: u16,
}

/// A misc device registered at a fixed minor.
///
/// # Invariants
///
/// - `inner` holds a `struct miscdevice` built by [`MiscDeviceOptions::into_raw`] for `T`
///   and registered with `misc_register()`; it stays registered until [`Drop`].
/// - The layout is that of [`MiscDeviceRegistration<T>`] (both are `repr(transparent)` over
///   `Opaque<bindings::miscdevice>`), which the in-tree open trampoline relies on when it
///   casts the `struct miscdevice` pointer back to a registration.
#[repr(transparent)]
#[pin_data(PinnedDrop)]
pub(crate) struct FixedMiscRegistration<T> {
    #[pin]
    inner: Opaque<bindings::miscdevice>,
    _t: PhantomData<T>,
}

// Same layout as the in-tree registration: its open trampoline depends on it.
const _: () = assert!(
    core::mem::size_of::<FixedMiscRegistration<()>>()
        == core::mem::size_of::<MiscDeviceRegistration<()>>()
);

// SAFETY: `misc_deregister` may be called from any thread.
unsafe impl<T> Send for FixedMiscRegistration<T> {}
// SAFETY: No `&self` method mutates anything.
unsafe impl<T> Sync for FixedMiscRegistration<T> {}

impl<T: MiscDevice> FixedMiscRegistration<T> {
    /// Registers the misc device.
    pub(crate) fn register(opts: FixedMiscOptions) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            inner <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                let mut raw = MiscDeviceOptions { name: opts.name }.into_raw::<T>();
                // CAST: misc minors are small non-negative numbers (<= MISC_DYNAMIC_MINOR).
                raw.minor = opts.minor as i32;
                raw.nodename = opts.nodename.as_char_ptr();
                raw.mode = opts.mode;
                // SAFETY: `slot` is valid for writes (guaranteed by `try_ffi_init`).
                unsafe { slot.write(raw) };
                // SAFETY: `slot` holds a fully initialised miscdevice whose fops come from the
                // in-tree vtable for `T`; the memory is pinned and `Drop` deregisters it before
                // it is freed.
                // INVARIANT: on success the device is registered.
                kernel::error::to_result(unsafe { bindings::misc_register(slot) })
            }),
            _t: PhantomData,
        })
    }
}

/// The open state of `file` if it is an open file of a misc device of type `T`: how an
/// ioctl taking a file descriptor checks it was handed the right kind of file.
pub(crate) fn open_state<T: MiscDevice>(
    file: &LocalFile,
) -> Option<<T::Ptr as ForeignOwnable>::Borrowed<'_>> {
    let ours = MiscDeviceOptions { name: c"" }.into_raw::<T>().fops;
    // SAFETY: `file` is a live file for the borrow; `f_op` is set at open and never changes.
    let fops = unsafe { (*file.as_ptr()).f_op };
    if !core::ptr::eq(fops, ours) {
        return None;
    }
    // SAFETY: Files with `T`'s fops are misc files whose open trampoline stored a
    // `T::Ptr` as private data, and it stays there until release, which cannot run while
    // the caller holds `file`.
    Some(unsafe { T::Ptr::borrow((*file.as_ptr()).private_data.cast()) })
}

#[pinned_drop]
impl<T> PinnedDrop for FixedMiscRegistration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: The device is registered (type invariant) and is deregistered only here.
        unsafe { bindings::misc_deregister(self.inner.get()) };
    }
}
