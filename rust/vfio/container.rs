// SPDX-License-Identifier: GPL-2.0

//! The container, `/dev/vfio/vfio`: every open creates one.
//!
//! A container gathers groups that share one IOMMU context. Until an IOMMU backend is
//! attached (`VFIO_SET_IOMMU`), it answers the API version and extension queries only, and
//! everything else fails with `-EINVAL`, exactly as upstream's `vfio_fops_unl_ioctl()`.
//!
//! Lock order: a group's lock, then its container's.

use kernel::{
    fs::File,
    miscdevice::{
        MiscDevice,
        MiscDeviceRegistration, //
    },
    new_mutex,
    prelude::*,
    sync::{
        aref::ARef,
        Arc,
        ArcBorrow,
        Mutex, //
    },
};

use crate::{
    ext::iommu::IommuGroup,
    uapi, //
};

/// One open of `/dev/vfio/vfio`.
#[pin_data]
pub(crate) struct Container {
    #[pin]
    inner: Mutex<ContainerInner>,
}

/// The mutable state of a [`Container`].
struct ContainerInner {
    /// The IOMMU groups attached through `VFIO_GROUP_SET_CONTAINER`.
    groups: KVec<ARef<IommuGroup>>,
}

impl Container {
    /// Adds a group whose DMA ownership the caller holds.
    pub(crate) fn attach_group(&self, group: &ARef<IommuGroup>) -> Result {
        self.inner.lock().groups.push(group.clone(), GFP_KERNEL)?;
        Ok(())
    }

    /// Removes a group added by [`Container::attach_group`].
    pub(crate) fn detach_group(&self, group: &IommuGroup) {
        self.inner
            .lock()
            .groups
            .retain(|g| !core::ptr::eq::<IommuGroup>(&**g, group));
    }

    /// `VFIO_SET_IOMMU`: needs a group; no IOMMU backend is available yet, which upstream
    /// reports as -ENODEV.
    fn set_iommu(&self, _iommu_type: usize) -> Result<isize> {
        if self.inner.lock().groups.is_empty() {
            return Err(EINVAL);
        }
        Err(ENODEV)
    }

    /// Dispatches a container ioctl.
    fn ioctl(&self, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            uapi::VFIO_GET_API_VERSION => Ok(uapi::VFIO_API_VERSION as isize),
            uapi::VFIO_CHECK_EXTENSION => Ok(self.check_extension(arg).into()),
            uapi::VFIO_SET_IOMMU => self.set_iommu(arg),
            // No IOMMU backend yet: upstream answers every other ioctl with -EINVAL.
            _ => Err(EINVAL),
        }
    }

    /// `VFIO_CHECK_EXTENSION`: 1 when supported, 0 otherwise. No IOMMU backend is
    /// registered yet, so nothing is.
    fn check_extension(&self, _extension: usize) -> u8 {
        0
    }
}

#[vtable]
impl MiscDevice for Container {
    type Ptr = Arc<Container>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Container>> {
        Arc::pin_init(
            pin_init!(Container {
                inner <- new_mutex!(ContainerInner { groups: KVec::new() }),
            }),
            GFP_KERNEL,
        )
    }

    fn ioctl(this: ArcBorrow<'_, Container>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        this.ioctl(cmd, arg)
    }
}
