// SPDX-License-Identifier: GPL-2.0

//! The container, `/dev/vfio/vfio`: every open creates one.
//!
//! A container gathers groups that share one IOMMU context. Until an IOMMU backend is
//! attached (`VFIO_SET_IOMMU`), it answers the API version and extension queries only, and
//! everything else fails with `-EINVAL`, exactly as upstream's `vfio_fops_unl_ioctl()`.
//! The only backend is type1 ([`Type1`]).
//!
//! Lock order: a group's lock, then its container's, then the backend's.

use kernel::{
    device::Device,
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
    type1::Type1,
    uapi, //
};

/// One open of `/dev/vfio/vfio`.
#[pin_data]
pub(crate) struct Container {
    #[pin]
    inner: Mutex<ContainerInner>,
}

/// A group attached to a container, with a device to allocate IOMMU domains for.
struct MemberGroup {
    group: ARef<IommuGroup>,
    device: ARef<Device>,
}

/// The mutable state of a [`Container`].
struct ContainerInner {
    /// The IOMMU groups attached through `VFIO_GROUP_SET_CONTAINER`.
    groups: KVec<MemberGroup>,
    /// The IOMMU backend, once `VFIO_SET_IOMMU` succeeded; dropped with the last group.
    backend: Option<Arc<Type1>>,
}

impl Container {
    /// Adds a group whose DMA ownership the caller holds; `device` is one of its devices.
    /// With a backend set, the group joins its IOMMU domains, or the attach fails.
    pub(crate) fn attach_group(&self, group: &ARef<IommuGroup>, device: &ARef<Device>) -> Result {
        let mut inner = self.inner.lock();
        inner.groups.reserve(1, GFP_KERNEL)?;
        if let Some(backend) = &inner.backend {
            backend.attach_group(group, device)?;
        }
        inner.groups.push(
            MemberGroup {
                group: group.clone(),
                device: device.clone(),
            },
            GFP_KERNEL,
        )?;
        Ok(())
    }

    /// Removes a group added by [`Container::attach_group`]; the last one out takes the
    /// backend, and with it every DMA mapping, along.
    pub(crate) fn detach_group(&self, group: &IommuGroup) {
        let mut inner = self.inner.lock();
        if let Some(backend) = &inner.backend {
            backend.detach_group(group);
        }
        inner
            .groups
            .retain(|g| !core::ptr::eq::<IommuGroup>(&*g.group, group));
        if inner.groups.is_empty() {
            inner.backend = None;
        }
    }

    /// Whether an IOMMU backend is set, which device access requires.
    pub(crate) fn has_iommu(&self) -> bool {
        self.inner.lock().backend.is_some()
    }

    /// `VFIO_SET_IOMMU`: needs a group and no backend yet; attaches every group.
    fn set_iommu(&self, iommu_type: usize) -> Result<isize> {
        let mut inner = self.inner.lock();
        if inner.groups.is_empty() || inner.backend.is_some() {
            return Err(EINVAL);
        }
        if !Type1::check_extension_unset(iommu_type) {
            // No backend claims this type.
            return Err(ENODEV);
        }
        if !Type1::supports(iommu_type) {
            // Claimed by type1's extension check (VFIO_UNMAP_ALL) but not a type it opens.
            return Err(EINVAL);
        }
        let backend = Type1::new(iommu_type)?;
        for member in inner.groups.iter() {
            // On failure the backend is dropped, detaching the groups attached so far.
            backend.attach_group(&member.group, &member.device)?;
        }
        inner.backend = Some(backend);
        Ok(0)
    }

    /// Dispatches a container ioctl.
    fn ioctl(&self, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            uapi::VFIO_GET_API_VERSION => Ok(uapi::VFIO_API_VERSION as isize),
            uapi::VFIO_CHECK_EXTENSION => Ok(self.check_extension(arg).into()),
            uapi::VFIO_SET_IOMMU => self.set_iommu(arg),
            _ => {
                // Everything else belongs to the backend; without one, upstream says -EINVAL.
                let backend = self.inner.lock().backend.clone().ok_or(EINVAL)?;
                backend.ioctl(cmd, arg)
            }
        }
    }

    /// `VFIO_CHECK_EXTENSION`: 1 when supported, 0 otherwise; before `VFIO_SET_IOMMU`,
    /// what the backend could offer.
    fn check_extension(&self, extension: usize) -> u8 {
        let backend = self.inner.lock().backend.clone();
        let supported = match backend {
            Some(backend) => backend.check_extension(extension),
            None => Type1::check_extension_unset(extension),
        };
        supported.into()
    }
}

#[vtable]
impl MiscDevice for Container {
    type Ptr = Arc<Container>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Container>> {
        Arc::pin_init(
            pin_init!(Container {
                inner <- new_mutex!(ContainerInner {
                    groups: KVec::new(),
                    backend: None,
                }),
            }),
            GFP_KERNEL,
        )
    }

    fn ioctl(this: ArcBorrow<'_, Container>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        this.ioctl(cmd, arg)
    }
}
