// SPDX-License-Identifier: GPL-2.0

//! The container, `/dev/vfio/vfio`: every open creates one.
//!
//! A container gathers groups that share one IOMMU context. Until an IOMMU backend is
//! attached (`VFIO_SET_IOMMU`), it answers the API version and extension queries only, and
//! everything else fails with `-EINVAL`, exactly as upstream's `vfio_fops_unl_ioctl()`.
//! The backends are the drivers that modules such as `vfio_iommu_type1` register
//! ([`crate::ext::iommu_drivers`]) and, for no-IOMMU groups, which never share a container
//! with others, the core's own [`crate::noiommu`].
//!
//! Lock order: a group's lock, then its container's, then the registered drivers', then the
//! backend's.

use kernel::{
    device::Device,
    fs::File,
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
    ext::{
        current::{
            self,
            Capability, //
        },
        file_ops::{
            FileOps,
            FileOpsTable, //
        },
        iommu_abi::IommuBackend,
        iommu_dma_owner::DmaOwnerClaim,
        iommu_drivers::{
            self,
            HeldDriver, //
        },
        iommu_group::IommuGroup,
        misc::{
            self,
            MiscOps, //
        },
    },
    group::Isolation,
    noiommu, uapi,
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
    isolation: Isolation,
}

/// The mutable state of a [`Container`].
struct ContainerInner {
    /// The IOMMU groups attached through `VFIO_GROUP_SET_CONTAINER`.
    groups: KVec<MemberGroup>,
    /// The IOMMU backend, once `VFIO_SET_IOMMU` succeeded; dropped with the last group.
    backend: Option<Arc<dyn IommuBackend>>,
}

impl Container {
    /// Adds `group`, of which `device` is a device, taking the group's DMA ownership when an
    /// IOMMU isolates it (the claim is returned; detaching drops it after
    /// [`Container::detach_group`]). With a backend set, the group joins its IOMMU domains, or
    /// the attach fails. No-IOMMU groups need `CAP_SYS_RAWIO`, and never share a container
    /// with isolated ones (-EPERM), as upstream's `vfio_container_attach_group()`.
    pub(crate) fn attach_group(
        &self,
        group: &ARef<IommuGroup>,
        device: &ARef<Device>,
        isolation: Isolation,
    ) -> Result<Option<DmaOwnerClaim>> {
        if isolation == Isolation::NoIommu && !current::capable(Capability::SysRawio) {
            return Err(EPERM);
        }
        let mut inner = self.inner.lock();
        if inner.isolation().is_some_and(|i| i != isolation) {
            return Err(EPERM);
        }
        let claim = match isolation {
            Isolation::Iommu => Some(IommuGroup::claim_dma_owner(group)?),
            Isolation::NoIommu => None,
        };
        inner.groups.reserve(1, GFP_KERNEL)?;
        if let Some(backend) = &inner.backend {
            // On failure the claim is dropped: the kernel owns the group's DMA again.
            backend.attach_group(group, device)?;
        }
        inner.groups.push(
            MemberGroup {
                group: group.clone(),
                device: device.clone(),
                isolation,
            },
            GFP_KERNEL,
        )?;
        Ok(claim)
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
        if inner.isolation() == Some(Isolation::NoIommu) {
            // Only the no-IOMMU backend, which has nothing to attach.
            if !noiommu::offers(iommu_type) {
                return Err(ENODEV);
            }
            inner.backend = Some(noiommu::open(iommu_type)?);
            return Ok(0);
        }
        // As upstream's `vfio_ioctl_set_iommu()`: the newest driver first; -ENODEV when no
        // driver claims the type, else the error of the last one that claimed it and failed.
        let drivers = iommu_drivers::lock();
        let mut result = Err(ENODEV);
        for driver in drivers.usable() {
            if !driver.offers(iommu_type) {
                continue;
            }
            match Self::open_backend(driver, iommu_type, &inner.groups) {
                Ok(backend) => {
                    inner.backend = Some(backend);
                    return Ok(0);
                }
                Err(e) => result = Err(e),
            }
        }
        result
    }

    /// A new backend of `driver` with every group of the container attached.
    fn open_backend(
        driver: HeldDriver,
        iommu_type: usize,
        groups: &[MemberGroup],
    ) -> Result<Arc<dyn IommuBackend>> {
        let backend = driver.open(iommu_type)?;
        for member in groups {
            // On failure the backend is dropped, detaching the groups attached so far.
            backend.attach_group(&member.group, &member.device)?;
        }
        Ok(backend)
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
    /// what the backends the container's groups allow could offer.
    fn check_extension(&self, extension: usize) -> u8 {
        let (backend, isolation) = {
            let inner = self.inner.lock();
            (inner.backend.clone(), inner.isolation())
        };
        let drivers_offer = || {
            iommu_drivers::lock()
                .usable()
                .any(|driver| driver.offers(extension))
        };
        let supported = match (backend, isolation) {
            (Some(backend), _) => backend.check_extension(extension),
            (None, None) => noiommu::offers(extension) || drivers_offer(),
            (None, Some(Isolation::NoIommu)) => noiommu::offers(extension),
            (None, Some(Isolation::Iommu)) => drivers_offer(),
        };
        supported.into()
    }
}

impl ContainerInner {
    /// Whether the container holds isolated or no-IOMMU groups; `None` while empty.
    fn isolation(&self) -> Option<Isolation> {
        self.groups.first().map(|g| g.isolation)
    }
}

/// The operations of container files.
static CONTAINER_FILE_OPS: FileOpsTable<Container> = misc::misc_table();

#[vtable]
impl FileOps for Container {
    type Data = Arc<Container>;
    const TABLE: &'static FileOpsTable<Self> = &CONTAINER_FILE_OPS;

    fn ioctl(this: ArcBorrow<'_, Container>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        this.ioctl(cmd, arg)
    }
}

impl MiscOps for Container {
    fn open(_file: &File) -> Result<Arc<Container>> {
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
}
