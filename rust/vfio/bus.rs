// SPDX-License-Identifier: GPL-2.0

//! The bus-driver side of the core: devices registered by vfio-pci (and any other bus
//! driver) through the C ABI of `include/rvfio/device_abi.h`.
//!
//! [`Core`] is the core's side of that ABI; its `extern "C"` exports, which turn raw
//! pointers into safe types, are `kernel_ext`'s (`abi/core_exports.rs`).

use kernel::{
    device::Device,
    fs::File,
    new_condvar, new_mutex,
    prelude::*,
    sync::{
        aref::ARef,
        Arc,
        CondVar,
        CondVarTimeoutResult,
        Mutex, //
    },
};

use crate::{
    cdev::{self, CdevNode},
    ext::{
        bus_callbacks::BusCallbacks,
        core_exports::CoreAbi,
        device_inode::DeviceInode,
        iommu_dma_owner,
        iommu_group::IommuGroup,
        iommufd::{
            BoundDevice,
            IommufdCtx,
            Target, //
        },
        kvm::KvmRef,
        noiommu::{
            self,
            NoIommuGroup, //
        },
    },
    group::{
        self,
        Group,
        Isolation, //
    },
};

/// A device registered by a bus driver.
#[pin_data]
pub(crate) struct BusDevice {
    /// The device itself, kept referenced while registered.
    dev: ARef<Device>,
    /// How to call back into the bus driver.
    callbacks: BusCallbacks,
    /// The address space of every mmap of the device's fds.
    inode: DeviceInode,
    /// Open device fds, and whether the device is leaving.
    #[pin]
    state: Mutex<DeviceState>,
    /// Signalled when the last device fd or cdev file closes.
    #[pin]
    all_closed: CondVar,
    /// Where the device is bound in iommufd while it is, for what vfio-pci asks from under
    /// its own locks (hot reset by device id): a leaf lock, never held while taking another,
    /// so unlike `state` (held across the bus driver's `open_device`) it is no lock-order
    /// hazard to callers holding theirs. Set and cleared under `state`.
    #[pin]
    iommufd_id: Mutex<Option<IommufdId>>,
}

/// A device's place in iommufd: the context it is bound to and its id there.
struct IommufdId {
    ctx: IommufdCtx,
    id: u32,
    /// Bound through its cdev (upstream's `cdev_opened`), not a group's iommufd.
    cdev: bool,
}

/// The mutable state of a [`BusDevice`].
struct DeviceState {
    /// Opens of the device: its group's device fds, or the one cdev file bound to an
    /// iommufd. The first calls the bus driver's `open_device`, the last `close_device`.
    open_fds: u32,
    /// The VM of the device's group (or of its cdev file) when the device opened,
    /// referenced until it closes (upstream's `device->kvm`).
    kvm: Option<KvmRef>,
    /// The device's iommufd binding while it is open through its cdev, or through a group
    /// given an iommufd.
    iommufd: Option<BoundDevice>,
    /// Open files of the device's cdev, bound or not: unregistration waits for them too.
    cdev_files: u32,
    /// Unregistration started: no new device fds or cdev files.
    removing: bool,
}

impl DeviceState {
    /// Whether nothing holds the device open or its cdev.
    fn idle(&self) -> bool {
        self.open_fds == 0 && self.cdev_files == 0
    }
}

/// How often (in ms) unregistration asks the bus driver again to get the device released.
const REQUEST_INTERVAL_MS: u32 = 10_000;

impl BusDevice {
    /// The registered device.
    pub(crate) fn device(&self) -> &ARef<Device> {
        &self.dev
    }

    /// The device's name (its PCI address for vfio-pci).
    pub(crate) fn name(&self) -> &[u8] {
        self.dev.name().to_bytes()
    }

    /// The inode whose address space holds the device's mmaps.
    pub(crate) fn inode(&self) -> &DeviceInode {
        &self.inode
    }

    /// The bus driver's callbacks.
    pub(crate) fn callbacks(&self) -> &BusCallbacks {
        &self.callbacks
    }

    /// Accounts a new device fd of the device's group; the first one asks `before_open` for
    /// a reference on the VM (the group's, if KVM associated one), which may refuse the
    /// open or keep the device from being bound, then opens the device (with the group's
    /// iommufd, if it has one instead of a container: upstream's `vfio_df_group_open()`).
    pub(crate) fn open_fd(
        &self,
        iommufd: Option<IommufdCtx>,
        before_open: impl FnOnce(&mut Option<IommufdCtx>) -> Result<Option<KvmRef>>,
    ) -> Result {
        let mut state = self.state.lock();
        if state.removing {
            return Err(ENODEV);
        }
        if state.open_fds == 0 {
            let mut iommufd = iommufd;
            let kvm = before_open(&mut iommufd)?;
            match self.first_open(iommufd.as_ref(), true) {
                Ok(bound) => {
                    self.set_iommufd_id(bound.as_ref(), false);
                    state.iommufd = bound;
                    state.kvm = kvm;
                }
                Err(e) => {
                    // Unlocked: the last reference destroys the VM (see `close_fd`).
                    drop(state);
                    drop(kvm);
                    return Err(e);
                }
            }
        }
        state.open_fds += 1;
        Ok(())
    }

    /// Opens the device for a file of its cdev, bound to the iommufd context `ctx`
    /// (`VFIO_DEVICE_BIND_IOMMUFD`), with `kvm` as its VM; returns the device's id in the
    /// context. Only a device open nowhere else can be (-EINVAL, as upstream: the cdev path
    /// has no way to share an open device); the file's [`CdevOpen`] closes it again.
    pub(crate) fn open_cdev(
        self: &Arc<Self>,
        ctx: &IommufdCtx,
        kvm: Option<KvmRef>,
    ) -> Result<(CdevOpen, u32)> {
        let mut state = self.state.lock();
        if state.removing {
            return Err(ENODEV);
        }
        if state.open_fds != 0 {
            return Err(EINVAL);
        }
        let bound = match self.first_open(Some(ctx), false) {
            Ok(bound) => bound,
            Err(e) => {
                drop(state);
                drop(kvm);
                return Err(e);
            }
        };
        let id = bound.as_ref().map_or(0, BoundDevice::id);
        self.set_iommufd_id(bound.as_ref(), true);
        state.iommufd = bound;
        state.kvm = kvm;
        state.open_fds = 1;
        Ok((CdevOpen(self.clone()), id))
    }

    /// The first open of the device, under its state lock (upstream's
    /// `vfio_df_device_first_open()`): bound to `iommufd` if given (iommufd takes the
    /// device's DMA from the kernel), opened in the bus driver, then with `compat` attached
    /// to the context's VFIO compatibility IOAS. On failure nothing stays bound or open.
    fn first_open(
        &self,
        iommufd: Option<&IommufdCtx>,
        compat: bool,
    ) -> Result<Option<BoundDevice>> {
        let mut bound = iommufd
            .map(|ctx| BoundDevice::bind(ctx, &self.dev))
            .transpose()?;
        self.callbacks.open_device()?;
        if let (true, Some(ctx), Some(bound)) = (compat, iommufd, bound.as_mut()) {
            let attached = ctx
                .compat_ioas_id()
                .and_then(|ioas| bound.attach(Target::Device, ioas));
            if let Err(e) = attached {
                self.callbacks.close_device();
                return Err(e);
            }
        }
        Ok(bound)
    }

    /// Attaches `target` of the device, open through its cdev, to the page table `pt_id` of
    /// its iommufd context (or moves it there); returns the id of what was attached.
    pub(crate) fn attach_iommufd(&self, target: Target, pt_id: u32) -> Result<u32> {
        let mut state = self.state.lock();
        state.iommufd.as_mut().ok_or(EINVAL)?.attach(target, pt_id)
    }

    /// Detaches `target` of the device, open through its cdev, from its page table.
    pub(crate) fn detach_iommufd(&self, target: Target) {
        if let Some(bound) = self.state.lock().iommufd.as_mut() {
            bound.detach(target);
        }
    }

    /// Records where `bound` (if any) binds the device, `cdev` if through its cdev.
    fn set_iommufd_id(&self, bound: Option<&BoundDevice>, cdev: bool) {
        *self.iommufd_id.lock() = bound.map(|bound| IommufdId {
            ctx: bound.ctx().clone(),
            id: bound.id(),
            cdev,
        });
    }

    /// Whether the device is open through its cdev (upstream's `vfio_device_cdev_opened()`).
    pub(crate) fn cdev_opened(&self) -> bool {
        self.iommufd_id.lock().as_ref().is_some_and(|id| id.cdev)
    }

    /// The id of the device `other` in the iommufd this device is bound to, as upstream's
    /// `vfio_iommufd_get_dev_id()`: its id if it is registered and bound there too; -ENOENT
    /// if not, but a device of its group is (so the context owns it anyway); else -ENODEV.
    pub(crate) fn iommufd_id_of(&self, other: &Device) -> Result<u32> {
        // Each device's lock in turn, never both: `other` may be this device.
        let ctx = self
            .iommufd_id
            .lock()
            .as_ref()
            .map(|id| id.ctx.clone())
            .ok_or(ENODEV)?;
        let other_group = IommuGroup::of_device(other).ok_or(ENODEV)?;
        let id = group::find_device(other, &other_group).and_then(|other| {
            other
                .iommufd_id
                .lock()
                .as_ref()
                .filter(|id| id.ctx.is(&ctx))
                .map(|id| id.id)
        });
        match id {
            Some(id) => Ok(id),
            None if ctx.has_group(&other_group) => Err(ENOENT),
            None => Err(ENODEV),
        }
    }

    /// Accounts a newly opened file of the device's cdev (-ENODEV once it is leaving).
    pub(crate) fn use_cdev(self: &Arc<Self>) -> Result<CdevUse> {
        let mut state = self.state.lock();
        if state.removing {
            return Err(ENODEV);
        }
        state.cdev_files += 1;
        Ok(CdevUse(self.clone()))
    }

    /// Accounts a closed device fd; the last one closes the device in the bus driver, hands
    /// an iommufd binding back, then drops its VM reference.
    pub(crate) fn close_fd(&self) {
        let mut state = self.state.lock();
        state.open_fds -= 1;
        if state.open_fds == 0 {
            self.callbacks.close_device();
            // As upstream's `vfio_df_device_last_close()`: unbound after the close.
            self.set_iommufd_id(None, false);
            drop(state.iommufd.take());
            if state.idle() {
                self.all_closed.notify_all();
            }
            // Dropped unlocked: the last reference destroys the VM, whose kvm-vfio device
            // then calls back into VFIO.
            let kvm = state.kvm.take();
            drop(state);
            drop(kvm);
        }
    }

    /// Refuses new device fds, then waits until the open ones are closed, asking the bus
    /// driver every [`REQUEST_INTERVAL_MS`] to have userspace let go (as upstream). After a
    /// signal it stops asking and just waits.
    fn wait_all_closed(&self) {
        let mut state = self.state.lock();
        state.removing = true;
        let mut count = 0;
        while !state.idle() {
            self.callbacks.request(count);
            count += 1;
            let waited = self.all_closed.wait_interruptible_timeout(
                &mut state,
                kernel::time::msecs_to_jiffies(REQUEST_INTERVAL_MS),
            );
            if matches!(waited, CondVarTimeoutResult::Signal { .. }) {
                dev_warn!(
                    self.dev,
                    "device in use by userspace: unregistration blocked until it is released\n"
                );
                while !state.idle() {
                    self.all_closed.wait(&mut state);
                }
            }
        }
    }
}

/// A cdev file's open of its device (from [`BusDevice::open_cdev`]); dropping it closes the
/// device.
pub(crate) struct CdevOpen(Arc<BusDevice>);

impl Drop for CdevOpen {
    fn drop(&mut self) {
        self.0.close_fd();
    }
}

/// An open file of a device's cdev, accounted while it lives.
pub(crate) struct CdevUse(Arc<BusDevice>);

impl CdevUse {
    /// The device.
    pub(crate) fn device(&self) -> &Arc<BusDevice> {
        &self.0
    }
}

impl Drop for CdevUse {
    fn drop(&mut self) {
        let mut state = self.0.state.lock();
        state.cdev_files -= 1;
        if state.idle() {
            self.0.all_closed.notify_all();
        }
    }
}

/// What `rvfio_register_device()` hands out: the device and the group it joined.
pub(crate) struct Registration {
    /// The device's cdev, `/dev/vfio/devices/vfio<N>`, if iommufd is there to bind it to;
    /// removed first, so that no new file opens while unregistration waits.
    cdev: Option<CdevNode>,
    device: Arc<BusDevice>,
    group: Arc<Group>,
    /// The group made for the device in no-IOMMU mode; dropped (the device taken out of it)
    /// once the device has left `group`.
    _noiommu: Option<NoIommuGroup>,
}

/// The core's side of the device ABI, exported by [`crate::ext::core_exports`].
pub(crate) struct Core;

impl CoreAbi for Core {
    type Registration = Registration;

    fn register(dev: ARef<Device>, callbacks: BusCallbacks) -> Result<KBox<Registration>> {
        // As upstream's `vfio_group_find_or_alloc()`: a device without an IOMMU group is
        // refused, unless no-IOMMU mode gives it one.
        let (iommu_group, noiommu) = match IommuGroup::of_device(&dev) {
            Some(iommu_group) => (iommu_group, None),
            None if noiommu::enabled() => {
                let noiommu = NoIommuGroup::new(&dev)?;
                (noiommu.group().clone(), Some(noiommu))
            }
            None => return Err(EINVAL),
        };
        let isolation = match noiommu {
            Some(_) => Isolation::NoIommu,
            None => Isolation::Iommu,
        };
        // VFIO maps every DMA coherent, which the IOMMU must be able to do.
        if isolation == Isolation::Iommu && !iommu_dma_owner::maps_cache_coherent(&dev) {
            return Err(EINVAL);
        }
        let device = Arc::pin_init(
            try_pin_init!(BusDevice {
                dev,
                callbacks,
                inode: DeviceInode::new()?,
                state <- new_mutex!(DeviceState {
                    open_fds: 0,
                    kvm: None,
                    iommufd: None,
                    cdev_files: 0,
                    removing: false,
                }),
                all_closed <- new_condvar!(),
                iommufd_id <- new_mutex!(None),
            }),
            GFP_KERNEL,
        )?;
        // Allocated first: nothing may fail once the device is in its group.
        let slot = KBox::<Registration>::new_uninit(GFP_KERNEL)?;
        let group = group::add_device(&device, &iommu_group, isolation)?;
        // As upstream without `CONFIG_IOMMUFD_NOIOMMU`: no cdev for a no-IOMMU device.
        let cdev = match isolation {
            Isolation::Iommu => cdev::add_node(&device, &group),
            Isolation::NoIommu => Ok(None),
        };
        let cdev = match cdev {
            Ok(cdev) => cdev,
            Err(e) => {
                group::remove_device(&device, &group);
                return Err(e);
            }
        };
        if isolation == Isolation::NoIommu {
            noiommu::taint();
            dev_warn!(
                device.dev,
                "Adding kernel taint for vfio-noiommu group on device\n"
            );
        }
        dev_info!(
            device.dev,
            "registered with vfio, IOMMU group {}\n",
            group.id()
        );
        Ok(slot.write(Registration {
            cdev,
            device,
            group,
            _noiommu: noiommu,
        }))
    }

    fn unregister(mut registration: KBox<Registration>) {
        drop(registration.cdev.take());
        registration.device.wait_all_closed();
        group::remove_device(&registration.device, &registration.group);
        dev_info!(registration.device.dev, "unregistered from vfio\n");
    }

    fn unmap_mmaps(registration: &Registration, start: u64, len: u64) {
        registration.device.inode().unmap(start, len);
    }

    fn cdev_opened(registration: &Registration) -> bool {
        registration.device.cdev_opened()
    }

    fn iommufd_id(registration: &Registration, other: &Device) -> Result<u32> {
        registration.device.iommufd_id_of(other)
    }

    fn file_is_group(file: &File) -> bool {
        Group::of_file(file).is_some()
    }

    fn file_has_dev(file: &File, dev: &Device) -> bool {
        Group::of_file(file).is_some_and(|group| group.has_device(dev))
    }
}
