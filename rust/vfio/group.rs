// SPDX-License-Identifier: GPL-2.0

//! IOMMU groups as VFIO sees them: `/dev/vfio/<group id>`.
//!
//! A group exists while at least one of its devices is registered by a bus driver; its node
//! is created with the first device and removed with the last. A group file is the proof
//! of ownership userspace shows for everything else: it attaches the group to a container
//! (taking DMA ownership of the group from the kernel) and hands out device fds.
//! In no-IOMMU mode a device without an IOMMU gets a group of its own with nothing to own,
//! `/dev/vfio/noiommu-<id>`, usable only with `CAP_SYS_RAWIO`.
//! Semantics and errnos follow upstream's `drivers/vfio/group.c`.

use kernel::{
    device::Device,
    fs::{
        File,
        LocalFile, //
    },
    new_mutex,
    prelude::*,
    sync::{
        aref::ARef,
        Arc,
        ArcBorrow,
        GlobalGuard,
        Mutex, //
    },
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

use crate::{
    args::read_args,
    bus::BusDevice,
    container::Container,
    device::DeviceFile,
    ext::{
        chrdev::{
            self,
            Node,
            NodeClass,
            NodeDir,
            NodeOps, //
        },
        current::{
            self,
            Capability, //
        },
        file_ops::{
            self,
            FileOps,
            FileOpsTable, //
        },
        iommu_dma_owner::{
            self,
            DmaOwnerClaim, //
        },
        iommu_group::IommuGroup,
        iommufd::IommufdCtx,
        kvm::{
            KvmHandle,
            KvmRef,
            KvmSlot, //
        },
    },
    uapi,
    uuid::Uuid,
};

/// What isolates the DMA of a group's devices.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isolation {
    /// An IOMMU: the group is the IOMMU driver's.
    Iommu,
    /// Nothing: a group VFIO made in no-IOMMU mode for a device without an IOMMU.
    NoIommu,
}

/// A group with at least one registered device (or an open file after the last left).
#[pin_data]
pub(crate) struct Group {
    iommu_group: ARef<IommuGroup>,
    isolation: Isolation,
    #[pin]
    inner: Mutex<GroupInner>,
    /// The VM KVM's kvm-vfio device associated the group file with; a device opened
    /// meanwhile holds a reference on it until its last close.
    #[pin]
    kvm: KvmSlot,
}

/// The mutable state of a [`Group`], under its lock.
struct GroupInner {
    /// Registered devices; empty once the group is being removed.
    devices: KVec<Arc<BusDevice>>,
    /// Whether the node is open: group files are exclusive.
    opened: bool,
    /// What translates the DMA of the group's devices, once userspace set it.
    backing: Option<Backing>,
    /// Open device fds of the group's devices (each also holds the group file).
    open_devices: u32,
    /// Devices of the group bound (or being bound) through their cdev: the group cannot be
    /// opened meanwhile (upstream's `cdev_device_open_cnt`).
    cdev_blocks: u32,
}

/// A group kept closed for a device used through its cdev (upstream's
/// `vfio_device_block_group()`); dropping it lets the group be opened again.
pub(crate) struct GroupBlock(Arc<Group>);

impl Drop for GroupBlock {
    fn drop(&mut self) {
        self.0.inner.lock().cdev_blocks -= 1;
    }
}

/// What `VFIO_GROUP_SET_CONTAINER` gave a group.
enum Backing {
    /// A VFIO container, `/dev/vfio/vfio`.
    Container(Attachment),
    /// An iommufd, `/dev/iommu`, in its VFIO compatibility mode (upstream's `group->iommufd`):
    /// a device is bound to it when first opened, and attached to its compatibility IOAS,
    /// where the container ioctls on the iommufd map.
    Iommufd(IommufdCtx),
}

/// A group's membership of a container. Dropping it leaves the container, then hands DMA
/// ownership back (the claim is dropped after `drop` runs), on every path that detaches.
struct Attachment {
    container: Arc<Container>,
    iommu_group: ARef<IommuGroup>,
    /// `None` for a no-IOMMU group: no IOMMU, no DMA ownership to take.
    _claim: Option<DmaOwnerClaim>,
}

impl Drop for Attachment {
    fn drop(&mut self) {
        self.container.detach_group(&self.iommu_group);
    }
}

impl Group {
    /// The IOMMU group number.
    pub(crate) fn id(&self) -> u32 {
        self.iommu_group.id()
    }

    /// `VFIO_GROUP_GET_STATUS`.
    fn get_status(&self, arg: usize) -> Result<isize> {
        const MINSZ: usize = core::mem::size_of::<uapi::vfio_group_status>();
        let mut status: uapi::vfio_group_status = read_args(arg, MINSZ)?;
        let inner = self.inner.lock();
        if inner.devices.is_empty() {
            return Err(ENODEV);
        }
        // As upstream: with an iommufd, DMA ownership is taken only at a device's open, so
        // a group may show as viable whose devices then cannot be opened.
        status.flags = if inner.backing.is_some() {
            uapi::VFIO_GROUP_FLAGS_CONTAINER_SET | uapi::VFIO_GROUP_FLAGS_VIABLE
        } else if !self.iommu_group.dma_owner_claimed() {
            uapi::VFIO_GROUP_FLAGS_VIABLE
        } else {
            0
        };
        UserSlice::new(UserPtr::from_addr(arg), MINSZ)
            .writer()
            .write(&status)?;
        Ok(0)
    }

    /// `VFIO_GROUP_SET_CONTAINER`: `arg` points to the fd of a container or an iommufd.
    fn set_container(&self, arg: usize) -> Result<isize> {
        let fd: i32 = UserSlice::new(UserPtr::from_addr(arg), 4).reader().read()?;
        let file = LocalFile::fget(u32::try_from(fd).map_err(|_| EBADF)?)?;
        let mut inner = self.inner.lock();
        if inner.backing.is_some() {
            return Err(EINVAL);
        }
        if inner.devices.is_empty() {
            return Err(ENODEV);
        }
        if let Some(container) = file_ops::data_of::<Container>(&file) {
            let container: Arc<Container> = container.into();
            let device = inner.devices.first().ok_or(ENODEV)?.device().clone();
            let claim = container.attach_group(&self.iommu_group, &device, self.isolation)?;
            inner.backing = Some(Backing::Container(Attachment {
                container,
                iommu_group: self.iommu_group.clone(),
                _claim: claim,
            }));
            return Ok(0);
        }
        // Anything but a container or an iommufd is the wrong kind of fd.
        let ctx = IommufdCtx::from_file(&file).map_err(|_| EBADFD)?;
        match self.isolation {
            Isolation::Iommu => ctx.create_compat_ioas()?,
            Isolation::NoIommu => ctx.set_compat_no_iommu()?,
        }
        inner.backing = Some(Backing::Iommufd(ctx));
        Ok(0)
    }

    /// `VFIO_GROUP_UNSET_CONTAINER`: from a container not while device fds are open; an
    /// iommufd is let go of at any time (devices open keep their binding, as upstream).
    fn unset_container(&self) -> Result<isize> {
        let mut inner = self.inner.lock();
        match inner.backing {
            None => return Err(EINVAL),
            Some(Backing::Container(_)) if inner.open_devices > 0 => return Err(EBUSY),
            Some(_) => {}
        }
        inner.backing = None;
        Ok(0)
    }

    /// `VFIO_GROUP_GET_DEVICE_FD`: `arg` points to `"<device name>[ vf_token=<uuid>]"`.
    fn get_device_fd(this: ArcBorrow<'_, Group>, file: &File, arg: usize) -> Result<isize> {
        // As upstream's `strndup_user(arg, PAGE_SIZE)`: -EINVAL unless NUL-terminated
        // within a page.
        const MAX: usize = kernel::page::PAGE_SIZE;
        let mut buf = KVec::from_elem(0u8, MAX + 1, GFP_KERNEL)?;
        let request = UserSlice::new(UserPtr::from_addr(arg), MAX + 1)
            .reader()
            .strcpy_into_buf(&mut buf)?
            .to_bytes();
        if request.len() >= MAX {
            return Err(EINVAL);
        }
        // As upstream, the first device whose name the request matches (or that finds the
        // request malformed) decides.
        let (device, vf_token) = {
            let inner = this.inner.lock();
            let mut found = None;
            for d in inner.devices.iter() {
                if let DeviceRequest::This { vf_token } = match_request(d.name(), request)? {
                    found = Some((d.clone(), vf_token));
                    break;
                }
            }
            found.ok_or(ENODEV)?
        };
        // As upstream, the bus driver checks the VF token as part of matching the name,
        // before device access is checked.
        device.callbacks().match_token(vf_token.as_ref())?;
        // Device access needs a container with an IOMMU set, or an iommufd, which a device
        // opened first is bound to (a no-IOMMU one has nothing to bind to).
        let iommufd = match &this.inner.lock().backing {
            Some(Backing::Container(attachment)) if attachment.container.has_iommu() => None,
            Some(Backing::Iommufd(ctx)) => Some(ctx.clone()),
            _ => return Err(EINVAL),
        };
        let dev = device.device().clone();
        let fd = DeviceFile::open(device, this.into(), file, iommufd)?;
        if this.isolation == Isolation::NoIommu {
            dev_warn!(
                dev,
                "vfio-noiommu device opened by user ({}:{})\n",
                current::comm().as_bstr(),
                current::pid()
            );
        }
        // CAST: fds are small non-negative integers.
        Ok(fd as isize)
    }

    /// Whether `dev` is registered in this group: what an open group file proves its holder
    /// owns (upstream's `vfio_file_has_dev()`, used by vfio-pci's hot reset).
    pub(crate) fn has_device(&self, dev: &Device) -> bool {
        self.inner
            .lock()
            .devices
            .iter()
            .any(|d| core::ptr::eq::<Device>(&**d.device(), dev))
    }

    /// The group of `file` if it is an open group file (upstream's `vfio_file_is_group()`).
    pub(crate) fn of_file(file: &File) -> Option<ArcBorrow<'_, Group>> {
        file_ops::data_of::<GroupNode>(file)
    }

    /// Records the VM KVM associated the group file with (`vfio_file_set_kvm()`).
    pub(crate) fn set_kvm(&self, kvm: Option<KvmHandle>) {
        self.kvm.set(kvm);
    }

    /// What the first open of one of the group's devices needs (upstream's
    /// `vfio_group_use_container()`): `CAP_SYS_RAWIO` for a no-IOMMU group (which with an
    /// iommufd must not have made it translate: no compatibility IOAS), and a reference on
    /// the group's VM, which the device keeps until its last close. A device of a no-IOMMU
    /// group is not bound to the iommufd: `iommufd` becomes `None`.
    pub(crate) fn first_device_open(
        &self,
        iommufd: &mut Option<IommufdCtx>,
    ) -> Result<Option<KvmRef>> {
        if self.isolation == Isolation::NoIommu {
            if !current::capable(Capability::SysRawio) {
                return Err(EPERM);
            }
            if let Some(ctx) = iommufd.take() {
                if ctx.compat_ioas_id().is_ok() {
                    return Err(EPERM);
                }
            }
        }
        Ok(self.kvm.reference())
    }

    /// Whether the DMA of every device of the group is cache coherent whatever the device
    /// asks for, which any domain the group is attached to then enforces (upstream's
    /// `vfio_group_enforced_coherent()`, for KVM).
    pub(crate) fn enforced_coherent(&self) -> bool {
        self.inner
            .lock()
            .devices
            .iter()
            .all(|d| iommu_dma_owner::enforces_cache_coherency(d.device()))
    }

    /// Keeps the group closed until the block is dropped: -EBUSY if it is open, as a device
    /// cannot be used through its group and its cdev at once.
    pub(crate) fn block(self: &Arc<Self>) -> Result<GroupBlock> {
        let mut inner = self.inner.lock();
        if inner.opened {
            return Err(EBUSY);
        }
        inner.cdev_blocks += 1;
        Ok(GroupBlock(self.clone()))
    }

    /// Accounts a new device fd of one of the group's devices.
    pub(crate) fn device_opened(&self) {
        self.inner.lock().open_devices += 1;
    }

    /// Accounts a closed device fd.
    pub(crate) fn device_closed(&self) {
        self.inner.lock().open_devices -= 1;
    }
}

/// What a `VFIO_GROUP_GET_DEVICE_FD` request says of one device.
enum DeviceRequest {
    /// It names another device.
    Other,
    /// It names this one, with the VF token it carries, if any.
    This { vf_token: Option<Uuid> },
}

/// Matches a `VFIO_GROUP_GET_DEVICE_FD` request against the device name `name` as
/// upstream's `vfio_pci_core_match()`: another device unless the request starts with
/// `name` followed by its end or a space. After the name come spaces and at most one
/// `vf_token=<uuid>`; any other option, a repeated token or a malformed UUID is -EINVAL.
fn match_request(name: &[u8], request: &[u8]) -> Result<DeviceRequest> {
    const TOKEN: &[u8] = b"vf_token=";
    let Some(mut rest) = request.strip_prefix(name) else {
        return Ok(DeviceRequest::Other);
    };
    if rest.first().is_some_and(|&c| c != b' ') {
        return Ok(DeviceRequest::Other);
    }
    let mut vf_token = None;
    while let Some((&c, tail)) = rest.split_first() {
        if c == b' ' {
            rest = tail;
            continue;
        }
        match rest.strip_prefix(TOKEN) {
            Some(value) if vf_token.is_none() => {
                // The UUID is the next 36 characters; what follows is parsed on.
                let (text, tail) = value.split_at_checked(36).ok_or(EINVAL)?;
                vf_token = Some(parse_uuid(text).ok_or(EINVAL)?);
                rest = tail;
            }
            _ => return Err(EINVAL),
        }
    }
    Ok(DeviceRequest::This { vf_token })
}

/// Parses a UUID in its 36-character text form, as `uuid_parse()`: hex digit pairs in
/// byte order, dashes after the 4th, 6th, 8th and 10th byte.
fn parse_uuid(text: &[u8]) -> Option<Uuid> {
    const DASHES: [usize; 4] = [8, 13, 18, 23];
    if text.len() != 36 || DASHES.iter().any(|&i| text[i] != b'-') {
        return None;
    }
    let mut digits = text
        .iter()
        .enumerate()
        .filter(|(i, _)| !DASHES.contains(i))
        .map(|(_, &c)| (c as char).to_digit(16));
    let mut bytes = [0u8; 16];
    for byte in bytes.iter_mut() {
        let (hi, lo) = (digits.next()??, digits.next()??);
        // CAST: two hex digits make a byte.
        *byte = (hi * 16 + lo) as u8;
    }
    Some(Uuid::from_bytes(bytes))
}

/// The file operations of group nodes.
pub(crate) struct GroupNode;

/// The operations of group files.
static GROUP_FILE_OPS: FileOpsTable<GroupNode> = chrdev::node_table();

impl NodeOps for GroupNode {
    type Owner = Group;

    fn open(group: &Arc<Group>, _file: &File) -> Result<Arc<Group>> {
        let mut inner = group.inner.lock();
        if inner.devices.is_empty() {
            return Err(ENODEV);
        }
        if group.isolation == Isolation::NoIommu && !current::capable(Capability::SysRawio) {
            return Err(EPERM);
        }
        if inner.cdev_blocks > 0 || inner.opened {
            return Err(EBUSY);
        }
        inner.opened = true;
        Ok(group.clone())
    }
}

#[vtable]
impl FileOps for GroupNode {
    type Data = Arc<Group>;
    const TABLE: &'static FileOpsTable<Self> = &GROUP_FILE_OPS;

    fn release(group: Arc<Group>) {
        let mut inner = group.inner.lock();
        inner.opened = false;
        inner.backing = None;
    }

    fn ioctl(group: ArcBorrow<'_, Group>, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            uapi::VFIO_GROUP_GET_STATUS => group.get_status(arg),
            uapi::VFIO_GROUP_SET_CONTAINER => group.set_container(arg),
            uapi::VFIO_GROUP_UNSET_CONTAINER => group.unset_container(),
            uapi::VFIO_GROUP_GET_DEVICE_FD => Group::get_device_fd(group, file, arg),
            _ => Err(ENOTTY),
        }
    }
}

/// A registered group and its node.
struct Entry {
    group: Arc<Group>,
    /// Removed (by drop) when the last device leaves.
    _node: Node<GroupNode>,
}

/// Where group nodes are: `/dev/vfio`.
struct VfioDir;

impl NodeDir for VfioDir {
    const DIR: &'static CStr = c"vfio";
}

/// All groups with registered devices, and the class their nodes live in.
pub(crate) struct Registry {
    class: Option<Arc<NodeClass>>,
    entries: KVec<Entry>,
}

crate::ext::module_lock::module_lock! {
    /// Set up by [`RegistryHandle::new()`] in module init, before any device can register
    /// (the ABI exports resolve only once init succeeded).
    static REGISTRY: Registry = Registry {
        class: None,
        entries: KVec::new(),
    };
    handle RegistryLock;
}

/// The module's handle on the registry: creates the `vfio` class, and drops it at exit.
pub(crate) struct RegistryHandle(RegistryLock);

impl RegistryHandle {
    /// Called once, from module init.
    pub(crate) fn new() -> Result<Self> {
        let lock = RegistryLock::new();
        let class = Arc::new(NodeClass::new::<VfioDir>(c"vfio")?, GFP_KERNEL)?;
        REGISTRY.lock().class = Some(class);
        Ok(Self(lock))
    }
}

impl Drop for RegistryHandle {
    fn drop(&mut self) {
        // Every bus driver is gone (they depend on this module), so no group is left. The
        // static itself is never dropped: its vector must be replaced, not cleared, for
        // its buffer to be freed (kmemleak found it left behind at every unload).
        let mut registry = REGISTRY.lock();
        registry.entries = KVec::new();
        registry.class = None;
    }
}

/// Adds `device` to its group, creating the group and its node if it is the first.
pub(crate) fn add_device(
    device: &Arc<BusDevice>,
    iommu_group: &ARef<IommuGroup>,
    isolation: Isolation,
) -> Result<Arc<Group>> {
    let mut registry: GlobalGuard<REGISTRY> = REGISTRY.lock();
    let id = iommu_group.id();
    if let Some(entry) = registry.entries.iter().find(|e| e.group.id() == id) {
        entry
            .group
            .inner
            .lock()
            .devices
            .push(device.clone(), GFP_KERNEL)?;
        return Ok(entry.group.clone());
    }
    let mut devices = KVec::new();
    devices.push(device.clone(), GFP_KERNEL)?;
    let group = Arc::pin_init(
        pin_init!(Group {
            iommu_group: iommu_group.clone(),
            isolation,
            inner <- new_mutex!(GroupInner {
                devices,
                opened: false,
                backing: None,
                open_devices: 0,
                cdev_blocks: 0,
            }),
            kvm <- KvmSlot::new(),
        }),
        GFP_KERNEL,
    )?;
    let class = registry.class.clone().ok_or(ENODEV)?;
    let prefix = match isolation {
        Isolation::Iommu => c"",
        Isolation::NoIommu => c"noiommu-",
    };
    let node = Node::new(&class, prefix, id, None, group.clone())?;
    registry.entries.push(
        Entry {
            group: group.clone(),
            _node: node,
        },
        GFP_KERNEL,
    )?;
    Ok(group)
}

/// The registered device `dev`, in `iommu_group`, if it is one.
pub(crate) fn find_device(dev: &Device, iommu_group: &IommuGroup) -> Option<Arc<BusDevice>> {
    let registry = REGISTRY.lock();
    let entry = registry
        .entries
        .iter()
        .find(|e| e.group.id() == iommu_group.id())?;
    let inner = entry.group.inner.lock();
    inner
        .devices
        .iter()
        .find(|d| core::ptr::eq::<Device>(&**d.device(), dev))
        .cloned()
}

/// Removes `device` from `group`; the last device takes the group's node with it.
pub(crate) fn remove_device(device: &Arc<BusDevice>, group: &Arc<Group>) {
    let mut registry = REGISTRY.lock();
    let mut inner = group.inner.lock();
    inner.devices.retain(|d| !Arc::ptr_eq(d, device));
    if inner.devices.is_empty() {
        // As upstream: the last device revokes the group. An open group file keeps the
        // `Group`, detached from its container, answering -ENODEV from now on.
        inner.backing = None;
        drop(inner);
        registry.entries.retain(|e| !Arc::ptr_eq(&e.group, group));
    }
}
