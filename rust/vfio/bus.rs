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
        Arc,
        GlobalGuard, //
    },
};

use crate::ext::{
    device_abi::{
        RawDevice,
        RawDeviceOps,
        ABI_VERSION, //
    },
    iommu::IommuGroup,
};

kernel::sync::global_lock! {
    // SAFETY: Initialised by `init()` from the module initialiser, before the device ABI
    // is reachable (the exports only resolve once the module is live).
    unsafe(uninit) static DEVICES: Mutex<KVec<Arc<BusDevice>>> = KVec::new();
}

/// Prepares the registry; called once from module init.
pub(crate) fn init() {
    // SAFETY: Called exactly once, from module init, before any other use of `DEVICES`.
    unsafe { DEVICES.init() };
}

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
    /// Its IOMMU group.
    group: ARef<IommuGroup>,
    /// How to call back into the bus driver.
    _ops: BusDriverOps,
}

/// Registers `dev` for VFIO use.
fn register(dev: ARef<Device>, ops: BusDriverOps) -> Result<Arc<BusDevice>> {
    // Upstream refuses a device without an IOMMU group unless in no-IOMMU mode, which
    // rvfio does not offer.
    let group = IommuGroup::of_device(&dev).ok_or(EINVAL)?;
    let device = Arc::new(
        BusDevice {
            dev,
            group,
            _ops: ops,
        },
        GFP_KERNEL,
    )?;
    let mut devices: GlobalGuard<DEVICES> = DEVICES.lock();
    devices.push(device.clone(), GFP_KERNEL)?;
    dev_info!(
        device.dev,
        "registered with vfio, IOMMU group {}\n",
        device.group.id()
    );
    Ok(device)
}

/// Unregisters a device registered by [`register`].
fn unregister(device: Arc<BusDevice>) {
    let mut devices = DEVICES.lock();
    devices.retain(|d| !Arc::ptr_eq(d, &device));
    dev_info!(device.dev, "unregistered from vfio\n");
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
        Ok(device) => Arc::into_raw(device).cast_mut().cast(),
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
    // SAFETY: `vdev` came from `Arc::into_raw` in `rvfio_register_device` and this call
    // takes back that reference, once (caller contract).
    let device = unsafe { Arc::from_raw(vdev.cast::<BusDevice>()) };
    unregister(device);
}
