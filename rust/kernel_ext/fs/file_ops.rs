// SPDX-License-Identifier: GPL-2.0

//! The file operations of every file rvfio gives userspace: group nodes (`/dev/vfio/<n>`),
//! the container (`/dev/vfio/vfio`) and device fds.
//!
//! [`FileOps`] says what one kind of file does; one set of `extern "C"` trampolines turns
//! the VFS callbacks into calls of it with the file's data borrowed; and each kind has one
//! `static` [`FileOpsTable`], whose address is how a file a user hands in (a container fd
//! to `SET_CONTAINER`, a group or device fd to KVM) is recognised ([`data_of`]). Only the
//! way a file comes to exist differs, so only `open` is not here: `chrdev.rs` and `misc.rs`
//! supply theirs, and `anon_file.rs` creates files already open.

use core::marker::PhantomData;
use kernel::{
    bindings,
    error::VTABLE_DEFAULT_ERROR,
    ffi::{
        c_char,
        c_int,
        c_long,
        c_uint,
        c_ulong, //
    },
    fs::{
        File,
        LocalFile, //
    },
    prelude::*,
    types::ForeignOwnable,
    uaccess::UserPtr,
};

/// The borrowed form of a kind's file data, as its operations get it.
pub(crate) type Borrowed<'a, T> = <<T as FileOps>::Data as ForeignOwnable>::Borrowed<'a>;

/// What one kind of file does. An operation left out fails as the VFS fails it for a file
/// without it.
#[vtable]
pub(crate) trait FileOps: Sized + 'static {
    /// Per-file state, owned by the file from its open (or creation) to its release.
    type Data: ForeignOwnable + Send + Sync;

    /// The kind's operations table: a `static` initialised with [`FileOpsTable::new`].
    const TABLE: &'static FileOpsTable<Self>;

    /// The last reference to the file is gone: its data comes back.
    fn release(data: Self::Data) {
        drop(data);
    }

    /// `ioctl()`.
    fn ioctl(data: Borrowed<'_, Self>, file: &File, cmd: u32, arg: usize) -> Result<isize>;

    /// `read()`/`pread()` of `len` bytes at `pos` into user memory `buf`.
    fn read(_data: Borrowed<'_, Self>, _buf: UserPtr, _len: usize, _pos: i64) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `write()`/`pwrite()` of `len` bytes at `pos` from user memory `buf`.
    fn write(_data: Borrowed<'_, Self>, _buf: UserPtr, _len: usize, _pos: i64) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `mmap()`.
    fn mmap(_data: Borrowed<'_, Self>, _vma: &MmapVma<'_>) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// The `open` callback of a kind of file, which stores its [`FileOps::Data`] as the file's
/// private data.
pub(crate) type OpenFn =
    unsafe extern "C" fn(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int;

/// The `struct file_operations` of the files of kind `T`.
///
/// # Invariants
///
/// Every callback in the table is a trampoline of this file for `T`, or the `open` given to
/// [`Self::new`], whose contract is to leave a `T::Data` in the file's private data. So a
/// file whose `f_op` is a `FileOpsTable<T>` holds a `T::Data` from open to release.
#[repr(transparent)]
pub(crate) struct FileOpsTable<T>(bindings::file_operations, PhantomData<T>);

// SAFETY: The table is never written after its constant initialisation; it only holds
// function pointers and the module pointer, which any thread may read.
unsafe impl<T> Sync for FileOpsTable<T> {}

impl<T: FileOps> FileOpsTable<T> {
    /// The table of `T`'s operations, with `open` as the open callback (`None` for files
    /// that are created open).
    ///
    /// # Safety
    ///
    /// `open`, when given, stores a `T::Data` (by [`ForeignOwnable::into_foreign`]) as the
    /// private data of every file it succeeds on.
    pub(crate) const unsafe fn new(open: Option<OpenFn>) -> Self {
        // INVARIANT: our trampolines, and an `open` under the caller's contract.
        Self(
            bindings::file_operations {
                owner: kernel::module::this_module::<crate::LocalModule>().as_ptr(),
                open,
                release: Some(release::<T>),
                unlocked_ioctl: Some(ioctl::<T>),
                #[cfg(CONFIG_COMPAT)]
                compat_ioctl: bindings::compat_ptr_ioctl,
                read: if T::HAS_READ { Some(read::<T>) } else { None },
                write: if T::HAS_WRITE { Some(write::<T>) } else { None },
                mmap: if T::HAS_MMAP { Some(mmap::<T>) } else { None },
                ..pin_init::zeroed()
            },
            PhantomData,
        )
    }

    /// The table, for the C structures that point to it (cdevs, misc devices, files).
    pub(crate) fn as_raw(&'static self) -> *const bindings::file_operations {
        &self.0
    }
}

/// The data of `file` if it is a file of kind `T`.
pub(crate) fn data_of<T: FileOps>(file: &LocalFile) -> Option<Borrowed<'_, T>> {
    // SAFETY: `file` is a live file for the borrow; `f_op` is set when it is opened or
    // created and never changes afterwards.
    let fops = unsafe { (*file.as_ptr()).f_op };
    if !core::ptr::eq(fops, T::TABLE.as_raw()) {
        return None;
    }
    // SAFETY: A file with `T`'s table holds a `T::Data` until release (type invariant),
    // which cannot run while the caller holds `file`.
    Some(unsafe { data::<T>(file.as_ptr()) })
}

/// A VMA being set up by `mmap()`, only to be passed on to whoever maps it.
///
/// # Invariants
///
/// Points to the VMA of an `mmap()` call in progress, for the duration of that call.
pub(crate) struct MmapVma<'a> {
    raw: *mut bindings::vm_area_struct,
    _call: PhantomData<&'a ()>,
}

impl MmapVma<'_> {
    /// The VMA pointer, valid for the `mmap()` call this value lives in.
    pub(crate) fn as_ptr(&self) -> *mut bindings::vm_area_struct {
        self.raw
    }
}

/// The borrowed data of a live file of kind `T`.
///
/// # Safety
///
/// `raw_file` has `T`'s table and is not released for the duration of `'a`.
unsafe fn data<'a, T: FileOps>(raw_file: *mut bindings::file) -> Borrowed<'a, T> {
    // SAFETY: The private data is a `T::Data`, live until release (caller contract and
    // `FileOpsTable` invariant).
    unsafe { T::Data::borrow((*raw_file).private_data.cast()) }
}

/// # Safety
///
/// Called by the VFS once, when the last reference to a file of kind `T` goes.
unsafe extern "C" fn release<T: FileOps>(
    _inode: *mut bindings::inode,
    raw_file: *mut bindings::file,
) -> c_int {
    // SAFETY: The private data is the file's `T::Data` (`FileOpsTable` invariant), taken
    // back once, here.
    T::release(unsafe { T::Data::from_foreign((*raw_file).private_data.cast()) });
    0
}

/// # Safety
///
/// Called by the VFS for a live file of kind `T`.
unsafe extern "C" fn ioctl<T: FileOps>(
    raw_file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: A live file of kind `T` for the call.
    let data = unsafe { data::<T>(raw_file) };
    // SAFETY: The file is valid for the call and no `fdget_pos` region is active.
    let file = unsafe { File::from_raw_file(raw_file) };
    match T::ioctl(data, file, cmd, arg) {
        // CAST: ioctl results fit a `c_long` (`isize`).
        Ok(ret) => ret as c_long,
        // CAST: errnos are small negative `c_int`s.
        Err(e) => e.to_errno() as c_long,
    }
}

/// # Safety
///
/// Called by the VFS for a live file of kind `T`, with a valid position pointer.
unsafe extern "C" fn read<T: FileOps>(
    raw_file: *mut bindings::file,
    buf: *mut c_char,
    len: usize,
    ppos: *mut bindings::loff_t,
) -> isize {
    // SAFETY: A live file of kind `T` for the call.
    let data = unsafe { data::<T>(raw_file) };
    // SAFETY: `ppos` is valid for the call.
    let pos = unsafe { *ppos };
    let done = T::read(data, UserPtr::from_ptr(buf.cast()), len, pos);
    // SAFETY: `ppos` is valid for the call.
    unsafe { advance(done, ppos) }
}

/// # Safety
///
/// Called by the VFS for a live file of kind `T`, with a valid position pointer.
unsafe extern "C" fn write<T: FileOps>(
    raw_file: *mut bindings::file,
    buf: *const c_char,
    len: usize,
    ppos: *mut bindings::loff_t,
) -> isize {
    // SAFETY: A live file of kind `T` for the call.
    let data = unsafe { data::<T>(raw_file) };
    // SAFETY: `ppos` is valid for the call.
    let pos = unsafe { *ppos };
    let done = T::write(data, UserPtr::from_ptr(buf.cast_mut().cast()), len, pos);
    // SAFETY: `ppos` is valid for the call.
    unsafe { advance(done, ppos) }
}

/// The `ssize_t` result of a read or write, moving the file position past what was
/// transferred.
///
/// # Safety
///
/// `ppos` is the valid position pointer of the call being completed.
unsafe fn advance(done: Result<usize>, ppos: *mut bindings::loff_t) -> isize {
    match done {
        Ok(done) => {
            // CAST: at most the requested length, which the VFS caps at `MAX_RW_COUNT`.
            // SAFETY: `ppos` is valid (caller contract); the VFS serialises position
            // updates.
            unsafe { *ppos += done as i64 };
            // CAST: as above.
            done as isize
        }
        // CAST: errnos fit `isize`.
        Err(e) => e.to_errno() as isize,
    }
}

/// # Safety
///
/// Called by the VFS for a live file of kind `T`, with a VMA being set up.
unsafe extern "C" fn mmap<T: FileOps>(
    raw_file: *mut bindings::file,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    // SAFETY: A live file of kind `T` for the call.
    let data = unsafe { data::<T>(raw_file) };
    // INVARIANT: `vma` is the VMA of this `mmap()` call, and `MmapVma` does not outlive it.
    let vma = MmapVma {
        raw: vma,
        _call: PhantomData,
    };
    match T::mmap(data, &vma) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}
