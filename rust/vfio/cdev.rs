// SPDX-License-Identifier: GPL-2.0

//! Device cdevs: `/dev/vfio/devices/vfio<N>` (sysfs `<device>/vfio-dev/vfio<N>`), devices
//! without groups or containers, whose DMA an iommufd context (`/dev/iommu`) translates.
//!
//! A cdev file can do nothing until `VFIO_DEVICE_BIND_IOMMUFD` binds it to an iommufd:
//! that opens the device (only if it is open nowhere else) and keeps its group from being
//! opened; userspace then attaches the device to its page tables
//! (`VFIO_DEVICE_ATTACH_IOMMUFD_PT`) and uses it as a group's device fd. Closing the file
//! closes the device and unbinds it. Semantics and errnos follow upstream's
//! `drivers/vfio/device_cdev.c`.

use kernel::{
    fs::File,
    prelude::*,
    sync::{
        Arc,
        SetOnce, //
    },
    transmute::{
        AsBytes,
        FromBytes, //
    },
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

use crate::{
    args::read_args,
    bus::{
        BusDevice,
        CdevOpen,
        CdevUse, //
    },
    ext::{
        chrdev::{
            self,
            Node,
            NodeClass,
            NodeDir,
            NodeOps, //
        },
        file_ops::{
            self,
            FileOps,
            FileOpsTable,
            MmapVma, //
        },
        iommufd::{
            self,
            IommufdCtx,
            Target, //
        },
        kvm::{
            KvmHandle,
            KvmSlot, //
        },
    },
    group::{
        Group,
        GroupBlock, //
    },
    uapi,
    uuid::Uuid,
};

/// What a device's cdev stands for: the device and the group it is in.
pub(crate) struct CdevTarget {
    device: Arc<BusDevice>,
    group: Arc<Group>,
}

/// A device's cdev; dropping it removes the node (open files keep working until closed).
pub(crate) struct CdevNode {
    _node: Node<CdevNodeOps>,
    minor: u32,
}

impl Drop for CdevNode {
    fn drop(&mut self) {
        let minor = self.minor;
        REGISTRY.lock().minors.retain(|m| *m != minor);
    }
}

/// One open file of a device's cdev.
#[pin_data]
pub(crate) struct CdevFile {
    /// The file's open of the device once bound (dropped first: closes the device).
    bound: SetOnce<BoundOpen>,
    /// The VM KVM's kvm-vfio device associated the file with; a bind takes a reference.
    #[pin]
    kvm: KvmSlot,
    group: Arc<Group>,
    /// Keeps unregistration waiting while the file is open.
    user: CdevUse,
}

/// A cdev file's bind: the device opened, its group kept closed. Dropping it closes the
/// device, then lets the group be opened.
struct BoundOpen {
    _open: CdevOpen,
    _block: GroupBlock,
}

/// `offsetofend(struct vfio_device_bind_iommufd, out_devid)`, where `out_devid` is.
const BIND_OUT_DEVID: usize = core::mem::offset_of!(uapi::vfio_device_bind_iommufd, out_devid);
const BIND_MINSZ: usize = BIND_OUT_DEVID + 4;
/// `offsetofend(struct vfio_device_attach_iommufd_pt, pt_id)`, where `pt_id` is (written
/// back) and where `pasid` follows.
const ATTACH_PT_ID: usize = core::mem::offset_of!(uapi::vfio_device_attach_iommufd_pt, pt_id);
const ATTACH_MINSZ: usize = ATTACH_PT_ID + 4;
/// `offsetofend(struct vfio_device_detach_iommufd_pt, flags)`; `pasid` follows.
const DETACH_MINSZ: usize = core::mem::offset_of!(uapi::vfio_device_detach_iommufd_pt, pasid);

impl CdevFile {
    /// The device.
    pub(crate) fn device(&self) -> &Arc<BusDevice> {
        self.user.device()
    }

    /// The cdev file `file` is, bound or not, if it is one.
    pub(crate) fn of_file(file: &File) -> Option<Pin<&CdevFile>> {
        file_ops::data_of::<CdevNodeOps>(file)
    }

    /// Records the VM KVM associated the file with (`vfio_file_set_kvm()`); a later bind
    /// gives the device a reference on it.
    pub(crate) fn set_kvm(&self, kvm: Option<KvmHandle>) {
        self.kvm.set(kvm);
    }

    /// Fails as upstream unless the file was bound.
    fn check_bound(&self) -> Result {
        self.bound.as_ref().map(|_| ()).ok_or(EINVAL)
    }

    /// `VFIO_DEVICE_BIND_IOMMUFD`.
    fn bind(&self, arg: usize) -> Result<isize> {
        let bind: uapi::vfio_device_bind_iommufd = read_struct_args(arg, BIND_MINSZ)?;
        if bind.iommufd < 0 || bind.flags & !uapi::VFIO_DEVICE_BIND_FLAG_TOKEN != 0 {
            return Err(EINVAL);
        }
        let block = self.group.block()?;
        if self.bound.as_ref().is_some() {
            return Err(EINVAL);
        }
        let token = if bind.flags & uapi::VFIO_DEVICE_BIND_FLAG_TOKEN != 0 {
            // CAST: a user address travels as a `u64`.
            let bytes: [u8; 16] =
                UserSlice::new(UserPtr::from_addr(bind.token_uuid_ptr as usize), 16)
                    .reader()
                    .read()?;
            Some(Uuid::from_bytes(bytes))
        } else {
            None
        };
        self.device().callbacks().match_token(token.as_ref())?;
        let ctx = IommufdCtx::from_fd(bind.iommufd)?;
        let (open, devid) = self.device().open_cdev(&ctx, self.kvm.reference())?;
        // On failure `open` closes the device again.
        UserSlice::new(UserPtr::from_addr(arg + BIND_OUT_DEVID), 4)
            .writer()
            .write(&devid)?;
        // Cannot fail: only one bind can open the device.
        self.bound.populate(BoundOpen {
            _open: open,
            _block: block,
        });
        Ok(0)
    }

    /// `VFIO_DEVICE_ATTACH_IOMMUFD_PT`.
    fn attach(&self, arg: usize) -> Result<isize> {
        let attach: uapi::vfio_device_attach_iommufd_pt = read_args(arg, ATTACH_MINSZ)?;
        let target = pasid_target(
            arg,
            attach.argsz,
            attach.flags,
            uapi::VFIO_DEVICE_ATTACH_PASID,
            ATTACH_MINSZ,
        )?;
        let pt_id = self.device().attach_iommufd(target, attach.pt_id)?;
        let written = UserSlice::new(UserPtr::from_addr(arg + ATTACH_PT_ID), 4)
            .writer()
            .write(&pt_id);
        if let Err(e) = written {
            self.device().detach_iommufd(target);
            return Err(e);
        }
        Ok(0)
    }

    /// `VFIO_DEVICE_DETACH_IOMMUFD_PT`.
    fn detach(&self, arg: usize) -> Result<isize> {
        let detach: uapi::vfio_device_detach_iommufd_pt = read_args(arg, DETACH_MINSZ)?;
        let target = pasid_target(
            arg,
            detach.argsz,
            detach.flags,
            uapi::VFIO_DEVICE_DETACH_PASID,
            DETACH_MINSZ,
        )?;
        self.device().detach_iommufd(target);
        Ok(0)
    }
}

/// The target of an attach or detach whose fixed part is `minsz` bytes at `arg`: the whole
/// device, or with `pasid_flag` in `flags` the PASID that follows (-EINVAL for any other
/// flag or an `argsz` without room for the PASID).
fn pasid_target(
    arg: usize,
    argsz: u32,
    flags: u32,
    pasid_flag: u32,
    minsz: usize,
) -> Result<Target> {
    if flags & !pasid_flag != 0 {
        return Err(EINVAL);
    }
    if flags & pasid_flag == 0 {
        return Ok(Target::Device);
    }
    // CAST: `u32` fits `usize`.
    if (argsz as usize) < minsz + 4 {
        return Err(EINVAL);
    }
    let pasid: u32 = UserSlice::new(UserPtr::from_addr(arg + minsz), 4)
        .reader()
        .read()?;
    Ok(Target::Pasid(pasid))
}

/// Reads the `T` at user address `arg` as upstream's newer ioctls do (`get_user()` of
/// `argsz`, then `copy_struct_from_user()`): -EFAULT when `argsz` cannot be read, -EINVAL
/// when it is below `minsz`, then the first `argsz` bytes of `T` (the rest left zero); what
/// the user passes beyond `T` must be zero (-E2BIG).
fn read_struct_args<T: FromBytes + AsBytes + Default>(arg: usize, minsz: usize) -> Result<T> {
    let argsz: u32 = UserSlice::new(UserPtr::from_addr(arg), 4).reader().read()?;
    // CAST: `u32` fits `usize`.
    let argsz = argsz as usize;
    if argsz < minsz {
        return Err(EINVAL);
    }
    let mut args = T::default();
    let size = core::mem::size_of::<T>();
    let head = args
        .as_bytes_mut()
        .get_mut(..argsz.min(size))
        .ok_or(EINVAL)?;
    UserSlice::new(UserPtr::from_addr(arg), head.len())
        .reader()
        .read_slice(head)?;
    if argsz > size {
        let mut tail = UserSlice::new(UserPtr::from_addr(arg + size), argsz - size).reader();
        let mut chunk = [0u8; 64];
        while !tail.is_empty() {
            let part = chunk.get_mut(..tail.len().min(64)).ok_or(EINVAL)?;
            tail.read_slice(part)?;
            if part.iter().any(|&b| b != 0) {
                return Err(E2BIG);
            }
        }
    }
    Ok(args)
}

/// The file operations of device cdevs.
pub(crate) struct CdevNodeOps;

/// The operations of cdev files.
static CDEV_FILE_OPS: FileOpsTable<CdevNodeOps> = chrdev::node_table();

impl NodeOps for CdevNodeOps {
    type Owner = CdevTarget;

    fn open(target: &Arc<CdevTarget>, file: &File) -> Result<Pin<KBox<CdevFile>>> {
        let user = target.device.use_cdev()?;
        // Every file of the device maps through its inode, so all mmaps can be revoked at
        // once; the file is not installed in any fd table yet.
        target.device.inode().attach(file);
        KBox::pin_init(
            pin_init!(CdevFile {
                bound: SetOnce::new(),
                kvm <- KvmSlot::new(),
                group: target.group.clone(),
                user,
            }),
            GFP_KERNEL,
        )
    }
}

#[vtable]
impl FileOps for CdevNodeOps {
    type Data = Pin<KBox<CdevFile>>;
    const TABLE: &'static FileOpsTable<Self> = &CDEV_FILE_OPS;

    fn ioctl(file: Pin<&CdevFile>, _: &File, cmd: u32, arg: usize) -> Result<isize> {
        if cmd == uapi::VFIO_DEVICE_BIND_IOMMUFD {
            return file.bind(arg);
        }
        file.check_bound()?;
        match cmd {
            uapi::VFIO_DEVICE_ATTACH_IOMMUFD_PT => file.attach(arg),
            uapi::VFIO_DEVICE_DETACH_IOMMUFD_PT => file.detach(arg),
            _ => file.device().callbacks().ioctl(cmd, arg),
        }
    }

    fn read(file: Pin<&CdevFile>, buf: UserPtr, len: usize, pos: i64) -> Result<usize> {
        file.check_bound()?;
        file.device().callbacks().read(buf, len, pos)
    }

    fn write(file: Pin<&CdevFile>, buf: UserPtr, len: usize, pos: i64) -> Result<usize> {
        file.check_bound()?;
        file.device().callbacks().write(buf, len, pos)
    }

    fn mmap(file: Pin<&CdevFile>, vma: &MmapVma<'_>) -> Result {
        file.check_bound()?;
        file.device().callbacks().mmap(vma)
    }
}

/// Where the nodes are: `/dev/vfio/devices`.
struct DevicesDir;

impl NodeDir for DevicesDir {
    const DIR: &'static CStr = c"vfio/devices";
}

/// The `vfio-dev` class (if the kernel has iommufd) and the minors its nodes use.
struct Registry {
    class: Option<Arc<NodeClass>>,
    minors: KVec<u32>,
}

crate::ext::module_lock::module_lock! {
    /// Set up by [`RegistryHandle::new()`] in module init, before any device can register.
    static REGISTRY: Registry = Registry {
        class: None,
        minors: KVec::new(),
    };
    handle RegistryLock;
}

/// The module's handle on the cdev registry: creates the `vfio-dev` class, and drops it at
/// exit.
pub(crate) struct RegistryHandle(RegistryLock);

impl RegistryHandle {
    /// Called once, from module init. Without iommufd there is nothing to bind a cdev to,
    /// so there are no cdevs (upstream's `CONFIG_VFIO_DEVICE_CDEV` needs `CONFIG_IOMMUFD`).
    pub(crate) fn new() -> Result<Self> {
        let lock = RegistryLock::new();
        if iommufd::available() {
            let class = Arc::new(NodeClass::new::<DevicesDir>(c"vfio-dev")?, GFP_KERNEL)?;
            REGISTRY.lock().class = Some(class);
        }
        Ok(Self(lock))
    }
}

impl Drop for RegistryHandle {
    fn drop(&mut self) {
        // Every device is gone; replaced, not cleared, so the buffer is freed (see group.rs).
        let mut registry = REGISTRY.lock();
        registry.minors = KVec::new();
        registry.class = None;
    }
}

/// Adds the cdev of `device`, in `group`, under the lowest free minor: `None` without
/// iommufd.
pub(crate) fn add_node(device: &Arc<BusDevice>, group: &Arc<Group>) -> Result<Option<CdevNode>> {
    let mut registry = REGISTRY.lock();
    let Some(class) = registry.class.clone() else {
        return Ok(None);
    };
    let minor = (0..).find(|m| !registry.minors.contains(m)).ok_or(ENOSPC)?;
    registry.minors.push(minor, GFP_KERNEL)?;
    let target = CdevTarget {
        device: device.clone(),
        group: group.clone(),
    };
    let node = Arc::new(target, GFP_KERNEL)
        .map_err(Error::from)
        .and_then(|target| Node::new(&class, c"vfio", minor, Some(device.device()), target));
    match node {
        Ok(node) => Ok(Some(CdevNode { _node: node, minor })),
        Err(e) => {
            registry.minors.retain(|m| *m != minor);
            Err(e)
        }
    }
}
