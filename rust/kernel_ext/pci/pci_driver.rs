// SPDX-License-Identifier: GPL-2.0

//! A PCI driver adapter for drivers that hand devices to userspace.
//!
//! 7.3's `pci::Adapter` cannot set `driver_managed_dma`, so the PCI core would attach every
//! bound device to the kernel's default DMA domain and `iommu_group_claim_dma_owner()`
//! would then fail with -EPERM. This adapter registers a `struct pci_driver` with
//! `driver_managed_dma = true` and upstream's override-only ID table (binding is by
//! `driver_override` or `new_id`), and keeps the driver's per-device data as drvdata.

use core::{
    marker::PhantomData,
    mem::MaybeUninit, //
};
use kernel::{
    bindings,
    device::Core,
    error::from_result,
    ffi::c_int,
    pci,
    prelude::*,
    types::{
        ForeignOwnable,
        Opaque, //
    },
    ThisModule,
};

use super::{
    pci_raw::{
        Binding,
        PciFunction, //
    },
    raw::device_ptr,
};

/// A PCI driver served by [`PciDriverRegistration`].
///
/// Its callbacks get the device in the [`Core`] context, as the in-tree adapter's; what
/// outlives a callback holds the [`PciFunction`] handle that probe is given, and remove
/// (or a failed probe) returns only once every handle is dropped.
pub(crate) trait PciDriver: 'static {
    /// Per-device state, created by `probe` and kept until `remove`.
    type Data: Send + Sync;

    /// Binds `pdev`, whose first handle is `function`.
    fn probe(pdev: &pci::Device<Core<'_>>, function: PciFunction) -> Result<Self::Data>;

    /// Probe has succeeded and `data` is the device's drvdata: from here the PM core may
    /// call [`Self::runtime_suspend`] and [`Self::runtime_resume`], once the PCI core's
    /// usage reference of the probe is given up (which is what this is for).
    fn bound(_data: &Self::Data) {}

    /// Unbinds `pdev`, consuming what `probe` returned.
    fn remove(pdev: &pci::Device<Core<'_>>, data: Self::Data);

    /// The PM core is about to suspend the device (runtime PM; nothing holds it active),
    /// and the PCI core will then put it into D3hot; an error keeps it active.
    fn runtime_suspend(_data: &Self::Data) -> Result {
        Ok(())
    }

    /// The device has been resumed from a runtime suspend (D0).
    fn runtime_resume(_data: &Self::Data) -> Result {
        Ok(())
    }

    /// `sriov_numvfs` was written: enable `count` VFs (0: disable); the count enabled.
    fn sriov_configure(pdev: &pci::Device<Core<'_>>, data: &Self::Data, count: u32) -> Result<u32>;

    /// AER (or another error recovery) found an error on the device. The device belongs to
    /// its user, who decides what to do, so the adapter tells the PCI core it can recover
    /// (`PCI_ERS_RESULT_CAN_RECOVER`), as upstream's vfio-pci does.
    fn error_detected(_data: &Self::Data) {}
}

/// The drvdata of a device bound to `T`: the driver's data and the adapter's side of the
/// binding.
struct Probed<T: PciDriver> {
    data: T::Data,
    binding: Binding,
}

/// A registered `struct pci_driver` for `T`.
///
/// # Invariants
///
/// `raw` is registered with the PCI core from successful construction until [`Drop`], and
/// the drvdata of every device bound to it is a `KBox<Probed<T>>` converted by
/// `into_foreign`.
#[pin_data(PinnedDrop)]
pub(crate) struct PciDriverRegistration<T: PciDriver> {
    #[pin]
    raw: Opaque<bindings::pci_driver>,
    _t: PhantomData<T>,
}

// SAFETY: Unregistration may happen on any thread.
unsafe impl<T: PciDriver> Send for PciDriverRegistration<T> {}
// SAFETY: There is no `&self` method.
unsafe impl<T: PciDriver> Sync for PciDriverRegistration<T> {}

/// `PCI_ANY_ID`.
pub(crate) const PCI_ANY_ID: u32 = !0;

/// The ID table of upstream's vfio-pci: every device, but only through `driver_override`
/// (`PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_ANY_ID, PCI_ANY_ID)`), then the terminator. Its
/// entry's `driver_data` of 0 is also what lets `new_id` accept "VENDOR DEVICE" writes.
static OVERRIDE_ONLY_ID_TABLE: [bindings::pci_device_id; 2] = [
    bindings::pci_device_id {
        vendor: PCI_ANY_ID,
        device: PCI_ANY_ID,
        subvendor: PCI_ANY_ID,
        subdevice: PCI_ANY_ID,
        class: 0,
        class_mask: 0,
        driver_data: 0,
        override_only: bindings::PCI_ID_F_VFIO_DRIVER_OVERRIDE,
    },
    pin_init::zeroed(),
];

impl<T: PciDriver> PciDriverRegistration<T> {
    /// The driver's PM callbacks: runtime PM only, as upstream's vfio-pci (system sleep is
    /// the PCI core's default handling).
    const PM_OPS: bindings::dev_pm_ops = {
        // SAFETY: All-zero is a valid `dev_pm_ops`: every member is an optional callback.
        let mut ops = unsafe { MaybeUninit::<bindings::dev_pm_ops>::zeroed().assume_init() };
        ops.runtime_suspend = Some(Self::runtime_suspend_callback);
        ops.runtime_resume = Some(Self::runtime_resume_callback);
        ops
    };

    /// The driver's error recovery callbacks: `error_detected` only, as upstream's vfio-pci.
    const ERR_HANDLERS: bindings::pci_error_handlers = bindings::pci_error_handlers {
        error_detected: Some(Self::error_detected_callback),
        mmio_enabled: None,
        slot_reset: None,
        reset_prepare: None,
        reset_done: None,
        resume: None,
        cor_error_detected: None,
    };

    /// Registers the driver as `name` for `module`.
    pub(crate) fn new(
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            raw <- Opaque::try_ffi_init(move |slot: *mut bindings::pci_driver| {
                // Not `pin_init::zeroed()`: with lockdep, the `spinlock_t` inside has a
                // bindgen opaque blob that does not implement `Zeroable`.
                // SAFETY: All-zero is a valid `pci_driver` (integers, pointers, optional
                // callbacks, an unlocked and not yet initialised spinlock and list heads that
                // registration initialises); the fields that matter are set below.
                let mut drv = unsafe { MaybeUninit::<bindings::pci_driver>::zeroed().assume_init() };
                drv.name = name.as_char_ptr();
                drv.id_table = OVERRIDE_ONLY_ID_TABLE.as_ptr();
                drv.probe = Some(Self::probe_callback);
                drv.remove = Some(Self::remove_callback);
                drv.sriov_configure = Some(Self::sriov_configure_callback);
                drv.driver.pm = &Self::PM_OPS;
                drv.err_handler = &Self::ERR_HANDLERS;
                // The whole point of this adapter: DMA ownership stays with userspace.
                drv.driver_managed_dma = true;
                // SAFETY: `slot` is valid for writes (`try_ffi_init`).
                unsafe { slot.write(drv) };
                // SAFETY: `slot` is a fully initialised, pinned `pci_driver` that `Drop`
                // unregisters before it is freed.
                // INVARIANT: on success the driver is registered.
                kernel::error::to_result(unsafe {
                    bindings::__pci_register_driver(slot, module.as_ptr(), name.as_char_ptr())
                })
            }),
            _t: PhantomData,
        })
    }

    extern "C" fn probe_callback(
        pdev: *mut bindings::pci_dev,
        _id: *const bindings::pci_device_id,
    ) -> c_int {
        // SAFETY: The PCI core calls probe with a live device that stays live until
        // remove, under its device lock; `pci::Device` is `repr(transparent)` over
        // `struct pci_dev` in every context.
        let pdev = unsafe { &*pdev.cast::<pci::Device<Core<'_>>>() };
        from_result(|| {
            // Allocated first: once probe succeeds, nothing may fail before the drvdata is set.
            let slot = KBox::<Probed<T>>::new_uninit(GFP_KERNEL)?;
            let (binding, function) = Binding::new(pdev)?;
            let data = match T::probe(pdev, function) {
                Ok(data) => data,
                Err(e) => {
                    binding.wait_unused();
                    return Err(e);
                }
            };
            let probed = KBox::write(slot, Probed::<T> { data, binding });
            let raw = probed.into_foreign();
            // SAFETY: `pdev` is the live device being probed; the drvdata belongs to its
            // driver, which is us.
            // INVARIANT: the drvdata is a `KBox<Probed<T>>` from `into_foreign`.
            unsafe { bindings::dev_set_drvdata(device_ptr(pdev.as_ref()), raw.cast()) };
            // SAFETY: `raw` came from `into_foreign` just now and only remove takes it back.
            let probed = unsafe { KBox::<Probed<T>>::borrow(raw) };
            T::bound(&probed.data);
            Ok(0)
        })
    }

    extern "C" fn sriov_configure_callback(pdev: *mut bindings::pci_dev, count: c_int) -> c_int {
        // SAFETY: The PCI core calls this with a live device bound to us, under its device
        // lock, so probe succeeded and its drvdata is set.
        let pdev = unsafe { &*pdev.cast::<pci::Device<Core<'_>>>() };
        let dev = device_ptr(pdev.as_ref());
        // SAFETY: `dev` is live and bound; its drvdata is our `KBox<Probed<T>>` (type
        // invariant), borrowed while the device lock keeps remove away.
        let probed = unsafe { KBox::<Probed<T>>::borrow(bindings::dev_get_drvdata(dev).cast()) };
        from_result(|| {
            let count = u32::try_from(count).map_err(|_| EINVAL)?;
            // CAST: bounded by TotalVFs, a 16-bit field.
            Ok(T::sriov_configure(pdev, &probed.data, count)? as c_int)
        })
    }

    extern "C" fn error_detected_callback(
        pdev: *mut bindings::pci_dev,
        _state: bindings::pci_channel_state_t,
    ) -> bindings::pci_ers_result_t {
        // SAFETY: Error recovery calls this with a live device bound to us, under its
        // device lock (`report_error_detected()`), so probe succeeded and remove cannot run.
        let pdev = unsafe { &*pdev.cast::<pci::Device<Core<'_>>>() };
        let dev = device_ptr(pdev.as_ref());
        // SAFETY: `dev` is live and bound; its drvdata is our `KBox<Probed<T>>` (type
        // invariant), borrowed while the device lock keeps remove away.
        let probed = unsafe { KBox::<Probed<T>>::borrow(bindings::dev_get_drvdata(dev).cast()) };
        T::error_detected(&probed.data);
        bindings::pci_ers_result_PCI_ERS_RESULT_CAN_RECOVER
    }

    /// Runs `f` on the drvdata of `dev` if it has one (a PM callback's device).
    ///
    /// # Safety
    ///
    /// `dev` is the `struct device` of a PCI device bound to this driver, and the call is a
    /// runtime PM callback of it.
    unsafe fn with_pm_data(
        dev: *mut bindings::device,
        f: impl FnOnce(&T::Data) -> Result,
    ) -> c_int {
        // SAFETY: `dev` is live while its PM callback runs (function contract).
        let raw = unsafe { bindings::dev_get_drvdata(dev) };
        if raw.is_null() {
            return 0;
        }
        // SAFETY: A non-null drvdata of a device bound to us is our `KBox<Probed<T>>` (type
        // invariant). It outlives this callback: `pci_device_remove()` holds a usage
        // reference and waits for callbacks in flight (`pm_runtime_barrier()`) before it
        // calls remove, and no callback runs while a usage reference is held.
        let probed = unsafe { KBox::<Probed<T>>::borrow(raw.cast()) };
        from_result(|| f(&probed.data).map(|()| 0))
    }

    extern "C" fn runtime_suspend_callback(dev: *mut bindings::device) -> c_int {
        // SAFETY: The PM core calls this for a device bound to us (`PM_OPS` is only ours).
        unsafe { Self::with_pm_data(dev, T::runtime_suspend) }
    }

    extern "C" fn runtime_resume_callback(dev: *mut bindings::device) -> c_int {
        // SAFETY: As in `runtime_suspend_callback`.
        unsafe { Self::with_pm_data(dev, T::runtime_resume) }
    }

    extern "C" fn remove_callback(pdev: *mut bindings::pci_dev) {
        // SAFETY: The PCI core calls remove with the live device that probe succeeded on,
        // under its device lock.
        let pdev = unsafe { &*pdev.cast::<pci::Device<Core<'_>>>() };
        let dev = device_ptr(pdev.as_ref());
        // SAFETY: `dev` is live and its drvdata was set by `probe_callback`.
        let raw = unsafe { bindings::dev_get_drvdata(dev) };
        // SAFETY: `raw` came from `KBox<Probed<T>>::into_foreign` (type invariant) and
        // remove is the one place that takes it back, once.
        let probed = unsafe { KBox::<Probed<T>>::from_foreign(raw.cast()) };
        let Probed { data, binding } = KBox::into_inner(probed);
        T::remove(pdev, data);
        // The device stays bound until the last handle is gone.
        binding.wait_unused();
        // SAFETY: `dev` is live; clear the dangling drvdata.
        unsafe { bindings::dev_set_drvdata(dev, core::ptr::null_mut()) };
    }
}

/// A dynamic ID of a PCI driver (the fields `new_id` takes): devices matching it bind to
/// the driver from now on.
pub(crate) struct DynId {
    /// Vendor ID.
    pub(crate) vendor: u32,
    /// Device ID.
    pub(crate) device: u32,
    /// Subsystem vendor ID (`PCI_ANY_ID`: any).
    pub(crate) subvendor: u32,
    /// Subsystem device ID (`PCI_ANY_ID`: any).
    pub(crate) subdevice: u32,
    /// Class code, compared under `class_mask`.
    pub(crate) class: u32,
    /// Bits of `class` that must match.
    pub(crate) class_mask: u32,
}

impl<T: PciDriver> PciDriverRegistration<T> {
    /// Adds `id` to the driver's dynamic IDs and binds the unbound devices it matches
    /// (`pci_add_dynid()`).
    pub(crate) fn add_dynid(&self, id: &DynId) -> Result {
        // SAFETY: The driver is registered (type invariant); `pci_add_dynid` takes the
        // driver's own locks.
        kernel::error::to_result(unsafe {
            bindings::pci_add_dynid(
                self.raw.get(),
                id.vendor,
                id.device,
                id.subvendor,
                id.subdevice,
                id.class,
                id.class_mask,
                0,
            )
        })
    }
}

#[pinned_drop]
impl<T: PciDriver> PinnedDrop for PciDriverRegistration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: Registered since construction (type invariant); unregistered only here.
        unsafe { bindings::pci_unregister_driver(self.raw.get()) };
    }
}
