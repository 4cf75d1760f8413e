// SPDX-License-Identifier: GPL-2.0

//! Device fds: `VFIO_GROUP_GET_DEVICE_FD` and the anonymous `[vfio-device]` files it returns.
//!
//! The core owns the fd's lifetime; everything the fd does is forwarded to the bus driver
//! through its registered callbacks. A device file keeps its group file referenced, so the
//! group (and with it the container and its DMA mappings) stays attached while any device
//! fd is open, as upstream. The first open calls the bus driver's `open_device`, the last
//! close its `close_device`; unregistration waits for the last close.

use kernel::{
    fs::File,
    prelude::*,
    sync::{
        aref::ARef,
        Arc, //
    },
    uaccess::UserPtr,
};

use crate::{
    bus::BusDevice,
    ext::{
        anon_file,
        file_ops::{
            self,
            FileOps,
            FileOpsTable,
            MmapVma, //
        },
        iommufd::IommufdCtx,
    },
    group::Group,
};

/// One device fd.
pub(crate) struct DeviceFile {
    device: Arc<BusDevice>,
    group: Arc<Group>,
    /// Keeps the group attached (its release detaches it) while the device fd is open.
    _group_file: ARef<File>,
}

impl DeviceFile {
    /// Opens `device` of `group` (whose open file is `group_file`) and returns the new fd;
    /// a first open binds the device to `iommufd` if the group has one instead of a
    /// container. The caller checked that the group may hand out device fds.
    pub(crate) fn open(
        device: Arc<BusDevice>,
        group: Arc<Group>,
        group_file: &File,
        iommufd: Option<IommufdCtx>,
    ) -> Result<u32> {
        device.open_fd(iommufd, |iommufd| group.first_device_open(iommufd))?;
        group.device_opened();
        let file = KBox::new(
            DeviceFile {
                device: device.clone(),
                group: group.clone(),
                _group_file: ARef::from(group_file),
            },
            GFP_KERNEL,
        );
        match file {
            // On failure the box comes back through `release`, which undoes the opens.
            // Every fd of the device maps through the device's inode, so the bus driver
            // can revoke all of its mmaps at once.
            Ok(file) => anon_file::install_fd::<DeviceFileOps>(c"[vfio-device]", file, |f| {
                device.inode().attach(f)
            }),
            Err(e) => {
                group.device_closed();
                device.close_fd();
                Err(e.into())
            }
        }
    }
}

impl DeviceFile {
    /// The device fd behind `file`, if it is one.
    pub(crate) fn of_file(file: &File) -> Option<&DeviceFile> {
        file_ops::data_of::<DeviceFileOps>(file)
    }

    /// The device.
    pub(crate) fn device(&self) -> &Arc<BusDevice> {
        &self.device
    }
}

/// The file operations of device fds.
pub(crate) struct DeviceFileOps;

/// The operations of device files, which are created open.
static DEVICE_FILE_OPS: FileOpsTable<DeviceFileOps> = anon_file::anon_table();

#[vtable]
impl FileOps for DeviceFileOps {
    type Data = KBox<DeviceFile>;
    const TABLE: &'static FileOpsTable<Self> = &DEVICE_FILE_OPS;

    fn ioctl(file: &DeviceFile, _: &File, cmd: u32, arg: usize) -> Result<isize> {
        file.device.callbacks().ioctl(cmd, arg)
    }

    fn read(file: &DeviceFile, buf: UserPtr, len: usize, pos: i64) -> Result<usize> {
        file.device.callbacks().read(buf, len, pos)
    }

    fn write(file: &DeviceFile, buf: UserPtr, len: usize, pos: i64) -> Result<usize> {
        file.device.callbacks().write(buf, len, pos)
    }

    fn mmap(file: &DeviceFile, vma: &MmapVma<'_>) -> Result {
        file.device.callbacks().mmap(vma)
    }

    fn release(file: KBox<DeviceFile>) {
        file.group.device_closed();
        file.device.close_fd();
    }
}
