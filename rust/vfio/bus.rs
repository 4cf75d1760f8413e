// SPDX-License-Identifier: GPL-2.0

//! The bus-driver side of the core: devices registered by vfio-pci (and any other bus
//! driver) through the C ABI of `include/rvfio/device_abi.h`.
//!
//! The two `extern "C"` functions are the whole FFI boundary: they turn raw pointers into
//! safe types and call [`register`] / [`unregister`], which contain no `unsafe`.

use kernel::{
    device::Device,
    ffi::c_void,
    prelude::*,
    sync::{
        aref::ARef,
        Arc, //
    },
};

use crate::{
    ext::{
        device_abi::{
            RawDevice,
            RawDeviceOps,
            ABI_VERSION, //
        },
        iommu::IommuGroup,
    },
    group::{
        self,
        Group, //
    },
};

/// The callbacks and cookie a bus driver registered a device with.
///
/// # Invariants
///
/// `ops` points to a [`RawDeviceOps`] of [`ABI_VERSION`], and `ops` and `cookie` stay valid
/// until `rvfio_unregister_device()` for this device has returned.
pub(crate) struct BusDriverOps {
    #[expect(
        dead_code,
        reason = "called back by device fds, which come with the core issue"
    )]
    ops: *const RawDeviceOps,
    #[expect(
        dead_code,
        reason = "called back by device fds, which come with the core issue"
    )]
    cookie: *mut c_void,
}

// SAFETY: The bus driver's callbacks may be called from any thread (ABI contract).
unsafe impl Send for BusDriverOps {}
// SAFETY: Same: the ABI requires the callbacks to be thread safe.
unsafe impl Sync for BusDriverOps {}

/// A device registered by a bus driver.
pub(crate) struct BusDevice {
    /// The device itself, kept referenced while registered.
    dev: ARef<Device>,
    /// How to call back into the bus driver.
    _ops: BusDriverOps,
}

impl BusDevice {
    /// The registered device.
    pub(crate) fn device(&self) -> &ARef<Device> {
        &self.dev
    }
}

/// What `rvfio_register_device()` hands out: the device and the group it joined.
struct Registration {
    device: Arc<BusDevice>,
    group: Arc<Group>,
}

/// Registers `dev` for VFIO use.
fn register(dev: ARef<Device>, ops: BusDriverOps) -> Result<KBox<Registration>> {
    // Upstream refuses a device without an IOMMU group unless in no-IOMMU mode, which
    // rvfio does not offer.
    let iommu_group = IommuGroup::of_device(&dev).ok_or(EINVAL)?;
    let device = Arc::new(BusDevice { dev, _ops: ops }, GFP_KERNEL)?;
    let group = group::add_device(&device, &iommu_group)?;
    dev_info!(
        device.dev,
        "registered with vfio, IOMMU group {}\n",
        group.id()
    );
    Ok(KBox::new(Registration { device, group }, GFP_KERNEL)?)
}

/// Unregisters a device registered by [`register`].
fn unregister(registration: KBox<Registration>) {
    group::remove_device(&registration.device, &registration.group);
    dev_info!(registration.device.dev, "unregistered from vfio\n");
}

/// `rvfio_register_device()` of `include/rvfio/device_abi.h`.
///
/// # Safety
///
/// `dev` must be a live device, and `ops`/`cookie` must satisfy the ABI contract: valid
/// until the matching `rvfio_unregister_device()` returns.
#[no_mangle]
unsafe extern "C" fn rvfio_register_device(
    dev: *mut kernel::bindings::device,
    ops: *const RawDeviceOps,
    cookie: *mut c_void,
) -> *mut RawDevice {
    let result = (|| {
        if dev.is_null() || ops.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: `ops` is non-null and valid for reads (caller contract).
        if unsafe { (*ops).abi_version } != ABI_VERSION {
            return Err(EINVAL);
        }
        // SAFETY: `dev` is a live device (caller contract); device release may run on any
        // thread.
        let dev = unsafe { Device::get_device(dev) };
        // INVARIANT: `ops` has the right version and the caller keeps `ops` and `cookie`
        // valid until unregistration.
        register(dev, BusDriverOps { ops, cookie })
    })();
    match result {
        Ok(registration) => KBox::into_raw(registration).cast(),
        Err(e) => e.to_ptr(),
    }
}

/// `rvfio_unregister_device()` of `include/rvfio/device_abi.h`.
///
/// # Safety
///
/// `vdev` must be a handle returned by `rvfio_register_device()` and not unregistered yet.
#[no_mangle]
unsafe extern "C" fn rvfio_unregister_device(vdev: *mut RawDevice) {
    // SAFETY: `vdev` came from `KBox::into_raw` in `rvfio_register_device`, and this call
    // takes it back, once (caller contract).
    let registration = unsafe { KBox::from_raw(vdev.cast::<Registration>()) };
    unregister(registration);
}
