// SPDX-License-Identifier: GPL-2.0

//! Misc devices at a fixed minor with a devtmpfs node name and mode.
//!
//! 7.3's `MiscDeviceRegistration` always asks for a dynamic minor and has no node name or
//! mode, but `/dev/vfio/vfio` must be misc minor 196, named `vfio/vfio`, mode 0666. This
//! registration is a `struct miscdevice` of our own whose files have the operations of a
//! [`FileOps`] kind, like every other file rvfio hands out.

use core::marker::PhantomData;
use kernel::{
    bindings,
    ffi::c_int,
    fs::File,
    prelude::*,
    types::{
        ForeignOwnable,
        Opaque, //
    }, //
};

use super::file_ops::{
    FileOps,
    FileOpsTable, //
};

/// A kind of misc device: its files' operations, and how an open makes a file's data.
/// Its [`FileOps::TABLE`] is a `static` initialised with [`misc_table`].
pub(crate) trait MiscOps: FileOps {
    /// The device is opened: the new file's data.
    fn open(file: &File) -> Result<Self::Data>;
}

/// The operations table of the files of misc devices of kind `T`.
pub(crate) const fn misc_table<T: MiscOps>() -> FileOpsTable<T> {
    // SAFETY: `open_misc::<T>` stores the `T::Data` of `T::open` in every file it opens.
    unsafe { FileOpsTable::new(Some(open_misc::<T>)) }
}

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

/// A misc device registered at a fixed minor, whose files are of kind `T`.
///
/// # Invariants
///
/// `inner` is a `struct miscdevice` with `T`'s operations table, registered with
/// `misc_register()` until [`Drop`].
#[pin_data(PinnedDrop)]
pub(crate) struct FixedMiscRegistration<T> {
    #[pin]
    inner: Opaque<bindings::miscdevice>,
    _t: PhantomData<T>,
}

// SAFETY: `misc_deregister` may be called from any thread.
unsafe impl<T> Send for FixedMiscRegistration<T> {}
// SAFETY: No `&self` method mutates anything.
unsafe impl<T> Sync for FixedMiscRegistration<T> {}

impl<T: MiscOps> FixedMiscRegistration<T> {
    /// Registers the misc device.
    pub(crate) fn register(opts: FixedMiscOptions) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            inner <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                let raw = bindings::miscdevice {
                    // CAST: misc minors are small non-negative numbers (<= MISC_DYNAMIC_MINOR).
                    minor: opts.minor as c_int,
                    name: opts.name.as_char_ptr(),
                    fops: T::TABLE.as_raw(),
                    nodename: opts.nodename.as_char_ptr(),
                    mode: opts.mode,
                    ..pin_init::zeroed()
                };
                // SAFETY: `slot` is valid for writes (guaranteed by `try_ffi_init`).
                unsafe { slot.write(raw) };
                // SAFETY: `slot` holds a fully initialised miscdevice with static strings
                // and table; the memory is pinned and `Drop` deregisters it before it is
                // freed.
                // INVARIANT: on success the device is registered.
                kernel::error::to_result(unsafe { bindings::misc_register(slot) })
            }),
            _t: PhantomData,
        })
    }
}

#[pinned_drop]
impl<T> PinnedDrop for FixedMiscRegistration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: The device is registered (type invariant) and is deregistered only here.
        unsafe { bindings::misc_deregister(self.inner.get()) };
    }
}

/// `open` of the misc devices of kind `T`.
///
/// # Safety
///
/// Called by `misc_open()` for a file of one of our devices being opened.
unsafe extern "C" fn open_misc<T: MiscOps>(
    _inode: *mut bindings::inode,
    raw_file: *mut bindings::file,
) -> c_int {
    // SAFETY: The file is valid for the call and no fdget_pos region is active.
    let file = unsafe { File::from_raw_file(raw_file) };
    match T::open(file) {
        Ok(data) => {
            // SAFETY: `misc_open()` left the `struct miscdevice` pointer in the private
            // data, which nothing of ours needs; the file's data replaces it, once, and
            // every other callback reads it back as `T::Data` (`FileOpsTable` invariant).
            unsafe { (*raw_file).private_data = data.into_foreign().cast() };
            0
        }
        Err(e) => e.to_errno(),
    }
}
