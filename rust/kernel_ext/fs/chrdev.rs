// SPDX-License-Identifier: GPL-2.0

//! Character-device nodes with our own file operations, for `/dev/vfio/<group>` and
//! `/dev/vfio/devices/vfio<N>`.
//!
//! 7.3's Rust has no cdev/class abstraction. A [`NodeClass`] is a device class plus a
//! chrdev region (dynamic major); a [`Node`] is one `struct device` + `struct cdev` pair
//! in it, named `<dir>/<name>` below `/dev`. The pair lives in a heap block that is freed
//! by the device's release callback, never earlier: open files pin the cdev, which pins the
//! device, so a node can be removed while userspace still holds it open.

use core::ptr::NonNull;
use kernel::{
    bindings,
    device::Device,
    error::{
        from_err_ptr,
        to_result, //
    },
    ffi::{
        c_char,
        c_int, //
    },
    fs::File,
    prelude::*,
    sync::Arc,
    types::{
        ForeignOwnable,
        Opaque, //
    },
};

use super::{
    file_ops::{
        FileOps,
        FileOpsTable, //
    },
    raw::device_ptr,
};

/// The directory below `/dev` a class's nodes appear in.
pub(crate) trait NodeDir {
    /// The directory, e.g. `vfio`.
    const DIR: &'static CStr;
}

/// A kind of node: its files' operations, and how an open of a node makes a file's data.
/// Its [`FileOps::TABLE`] is a `static` initialised with [`node_table`].
pub(crate) trait NodeOps: FileOps {
    /// What a node stands for; every open gets it.
    type Owner: Send + Sync;

    /// A node is opened: the new file's data.
    fn open(owner: &Arc<Self::Owner>, file: &File) -> Result<Self::Data>;
}

/// The operations table of the nodes of kind `T`.
pub(crate) const fn node_table<T: NodeOps>() -> FileOpsTable<T> {
    // SAFETY: `open_node::<T>` stores the `T::Data` of `T::open` in every file it opens.
    unsafe { FileOpsTable::new(Some(open_node::<T>)) }
}

/// Number of minors (and so of nodes) a class can hold: the whole minor space.
const MINORS: u32 = bindings::MINORMASK + 1;

/// A device class and the chrdev region of its nodes.
///
/// # Invariants
///
/// `class` is a class created by `class_create()` and `base` the first of [`MINORS`]
/// device numbers allocated by `alloc_chrdev_region()`; both are released in [`Drop`].
pub(crate) struct NodeClass {
    class: NonNull<bindings::class>,
    base: bindings::dev_t,
}

// SAFETY: Class and region are global kernel objects, usable and releasable from any thread.
unsafe impl Send for NodeClass {}
// SAFETY: `&self` only reads the two handles.
unsafe impl Sync for NodeClass {}

impl NodeClass {
    /// Creates the class `name`; its nodes appear as `/dev/<D::DIR>/<node name>`.
    pub(crate) fn new<D: NodeDir>(name: &'static CStr) -> Result<Self> {
        let mut base: bindings::dev_t = 0;
        // SAFETY: `base` is a valid out-pointer and `name` a static string.
        to_result(unsafe {
            bindings::alloc_chrdev_region(&mut base, 0, MINORS, name.as_char_ptr())
        })?;
        // SAFETY: `name` is a static string.
        let class = match from_err_ptr(unsafe { bindings::class_create(name.as_char_ptr()) }) {
            Ok(class) => class,
            Err(e) => {
                // SAFETY: The region was allocated just above.
                unsafe { bindings::unregister_chrdev_region(base, MINORS) };
                return Err(e);
            }
        };
        // SAFETY: `class` is a fresh class no device uses yet; setting its devnode
        // callback before the first device is added is what `class_create()` users do.
        unsafe { (*class).devnode = Some(devnode_in::<D>) };
        // INVARIANT: both resources were just acquired.
        Ok(Self {
            class: NonNull::new(class).ok_or(ENOMEM)?,
            base,
        })
    }
}

impl Drop for NodeClass {
    fn drop(&mut self) {
        // SAFETY: Both were acquired in `new` (type invariant) and are released only here;
        // every `Node` holds an `Arc` of the class, so none is left.
        unsafe {
            bindings::class_destroy(self.class.as_ptr());
            bindings::unregister_chrdev_region(self.base, MINORS);
        }
    }
}

/// `class->devnode`: put nodes under `D::DIR`.
///
/// # Safety
///
/// Called by the driver core with a live device of a class made by [`NodeClass::new`].
unsafe extern "C" fn devnode_in<D: NodeDir>(
    dev: *const bindings::device,
    _mode: *mut bindings::umode_t,
) -> *mut c_char {
    // SAFETY: The driver core calls this with a live device of our class, whose name is a
    // NUL-terminated string, as is `D::DIR`; `kasprintf` copies them.
    unsafe {
        bindings::kasprintf(
            bindings::GFP_KERNEL,
            c"%s/%s".as_char_ptr(),
            D::DIR.as_char_ptr(),
            bindings::dev_name(dev),
        )
    }
}

/// The heap block behind a [`Node`].
#[repr(C)]
struct NodeInner<T: NodeOps> {
    dev: Opaque<bindings::device>,
    cdev: Opaque<bindings::cdev>,
    owner: Arc<T::Owner>,
}

/// A device node of kind `T`; dropping it removes the node.
///
/// # Invariants
///
/// `inner` points to a [`NodeInner<T>`] whose device and cdev were added with
/// `cdev_device_add()`; this `Node` owns the initial device reference, given up in
/// [`Drop`], after which the device's release callback frees the block. `class` keeps the
/// class and region alive for as long as the node exists.
pub(crate) struct Node<T: NodeOps> {
    inner: NonNull<NodeInner<T>>,
    _class: Arc<NodeClass>,
}

// SAFETY: Removal may happen from any thread; `T::Owner` is `Send + Sync`.
unsafe impl<T: NodeOps> Send for Node<T> {}
// SAFETY: `&self` gives no access to the block.
unsafe impl<T: NodeOps> Sync for Node<T> {}

impl<T: NodeOps> Node<T> {
    /// Adds node `minor` of `class`, named `prefix` followed by the minor, for `owner`; its
    /// sysfs directory is below `parent`'s if given (the class's otherwise).
    pub(crate) fn new(
        class: &Arc<NodeClass>,
        prefix: &'static CStr,
        minor: u32,
        parent: Option<&Device>,
        owner: Arc<T::Owner>,
    ) -> Result<Self> {
        if minor >= MINORS {
            return Err(ENOSPC);
        }
        let block = KBox::new(
            NodeInner::<T> {
                // `device_initialize` expects a zeroed device, as from `kzalloc`.
                dev: Opaque::zeroed(),
                cdev: Opaque::zeroed(),
                owner,
            },
            GFP_KERNEL,
        )?;
        let inner = KBox::into_raw(block);
        // SAFETY: `inner` is a valid, exclusively owned block. `device_initialize` and
        // `cdev_init` initialise the two C objects in place; from `device_initialize` on,
        // the block is owned by the device's reference count and freed by
        // `release_node::<T>` (so error paths below use `put_device`, never `KBox::from_raw`).
        unsafe {
            let dev = (*inner).dev.get();
            let cdev = (*inner).cdev.get();
            bindings::device_initialize(dev);
            (*dev).class = class.class.as_ptr();
            (*dev).devt = class.base + minor;
            (*dev).release = Some(release_node::<T>);
            // `device_add` takes its own reference on the parent.
            (*dev).parent = parent.map_or(core::ptr::null_mut(), device_ptr);
            bindings::cdev_init(cdev, T::TABLE.as_raw());
            (*cdev).owner = kernel::module::this_module::<crate::LocalModule>().as_ptr();
            let ret =
                bindings::dev_set_name(dev, c"%s%u".as_char_ptr(), prefix.as_char_ptr(), minor);
            let ret = if ret == 0 {
                bindings::cdev_device_add(cdev, dev)
            } else {
                ret
            };
            if ret != 0 {
                bindings::put_device(dev);
                return Err(Error::from_errno(ret));
            }
        }
        // INVARIANT: the pair was added; we hold the initial device reference.
        Ok(Self {
            // SAFETY: `KBox::into_raw` never returns null.
            inner: unsafe { NonNull::new_unchecked(inner) },
            _class: class.clone(),
        })
    }
}

impl<T: NodeOps> Drop for Node<T> {
    fn drop(&mut self) {
        let inner = self.inner.as_ptr();
        // SAFETY: The pair was added (type invariant); after `cdev_device_del` no new open
        // can find it, and `put_device` gives up our reference: the block is freed once
        // open files let go of the cdev.
        unsafe {
            bindings::cdev_device_del((*inner).cdev.get(), (*inner).dev.get());
            bindings::put_device((*inner).dev.get());
        }
    }
}

/// `device->release` of a node: frees the block.
///
/// # Safety
///
/// Called by the driver core when the last reference to a node's device is gone.
unsafe extern "C" fn release_node<T: NodeOps>(dev: *mut bindings::device) {
    // SAFETY: `dev` is the `dev` field of a `NodeInner<T>` allocated by `KBox` in
    // `Node::new`; this is its last reference, so nothing else uses the block.
    unsafe {
        let inner = kernel::container_of!(Opaque::cast_from(dev).cast_mut(), NodeInner<T>, dev);
        drop(KBox::from_raw(inner));
    }
}

/// `open` of the nodes of kind `T`.
///
/// # Safety
///
/// Called by the VFS with the inode of one of our nodes and the file being opened.
unsafe extern "C" fn open_node<T: NodeOps>(
    inode: *mut bindings::inode,
    raw_file: *mut bindings::file,
) -> c_int {
    // SAFETY: The inode of a node opened through its cdev has `i_cdev` set to the
    // `cdev` field of our `NodeInner<T>`; `chrdev_open` holds a cdev reference for
    // the duration, so the block is live.
    let inner = unsafe {
        &*kernel::container_of!(
            Opaque::cast_from((*inode).__bindgen_anon_5.i_cdev).cast_mut(),
            NodeInner<T>,
            cdev
        )
    };
    // SAFETY: The file is valid for the call and no fdget_pos region is active.
    let file = unsafe { File::from_raw_file(raw_file) };
    match T::open(&inner.owner, file) {
        Ok(open) => {
            // SAFETY: `open` owns the file's private data, which we set once; every
            // other callback reads it back as `T::Data` (`FileOpsTable` invariant).
            unsafe { (*raw_file).private_data = open.into_foreign().cast() };
            0
        }
        Err(e) => e.to_errno(),
    }
}
