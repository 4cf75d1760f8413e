// SPDX-License-Identifier: GPL-2.0

//! A PCI function bound to vfio-pci ([`PciFunction`], the only holder of a raw `struct
//! pci_dev` pointer in rvfio) and the operations vfio-pci needs that 7.3's `pci::Device`
//! does not offer: enable and reset, power state and saved state, user config access,
//! resources and INTx masking. Its siblings add to it: `bar_map.rs` (BAR and ROM mappings),
//! `irq_vectors.rs` (MSI/MSI-X vectors), `sriov_raw.rs` (SR-IOV), `reset_scope.rs` (the
//! functions a slot or bus reset reaches).

use kernel::{
    bindings,
    device::{
        Bound,
        Core,
        Device, //
    },
    ffi::c_int,
    pci,
    prelude::*,
    sync::{
        aref::ARef,
        Arc,
        Completion, //
    },
};

/// `PCI_HEADER_TYPE_NORMAL`: a function, not a bridge.
pub(crate) const HEADER_TYPE_NORMAL: u8 = bindings::PCI_HEADER_TYPE_NORMAL as u8;

/// `PCI_ROM_RESOURCE`: the resource index of the expansion ROM.
pub(crate) const ROM_RESOURCE: u32 = bindings::PCI_ROM_RESOURCE;

/// PCI power states (`pci_power_t`), as `include/linux/pci.h` numbers them.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum PowerState {
    /// Fully on.
    D0 = 0,
    /// Light sleep.
    D1 = 1,
    /// Deeper sleep.
    D2 = 2,
    /// Off, config space still reachable.
    D3Hot = 3,
}

impl PowerState {
    /// The state the two PowerState bits of PMCSR (`PCI_PM_CTRL`) select.
    pub(crate) fn from_pmcsr(bits: u8) -> Self {
        match bits & 0x3 {
            0 => PowerState::D0,
            1 => PowerState::D1,
            2 => PowerState::D2,
            _ => PowerState::D3Hot,
        }
    }
}

/// One of a function's address resources (`pdev->resource[i]`).
#[derive(Clone, Copy, Default)]
pub(crate) struct Resource {
    /// Bus address of the first byte; 0 when the resource is not assigned.
    pub(crate) start: u64,
    /// Length in bytes.
    pub(crate) len: u64,
    /// `IORESOURCE_*` flags.
    pub(crate) flags: u64,
}

impl Resource {
    /// Memory space (as opposed to I/O ports).
    pub(crate) fn is_mem(&self) -> bool {
        self.flags & u64::from(bindings::IORESOURCE_MEM) != 0
    }

    /// I/O port space.
    pub(crate) fn is_io(&self) -> bool {
        self.flags & u64::from(bindings::IORESOURCE_IO) != 0
    }

    /// 64-bit memory BAR.
    pub(crate) fn is_mem64(&self) -> bool {
        self.flags & u64::from(bindings::IORESOURCE_MEM_64) != 0
    }

    /// Prefetchable memory.
    pub(crate) fn is_prefetch(&self) -> bool {
        self.flags & u64::from(bindings::IORESOURCE_PREFETCH) != 0
    }
}

/// Access widths of config space and BARs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Width {
    /// One byte.
    W8 = 1,
    /// Two bytes.
    W16 = 2,
    /// Four bytes.
    W32 = 4,
    /// Eight bytes.
    W64 = 8,
}

impl Width {
    /// The width in bytes.
    pub(crate) fn bytes(self) -> usize {
        self as usize
    }

    /// The widest access of at most `max` bytes that `count` bytes at `offset` allow
    /// (naturally aligned); `None` when `count` is zero.
    pub(crate) fn fitting(offset: u64, count: usize, max: Width) -> Option<Width> {
        [Width::W64, Width::W32, Width::W16, Width::W8]
            .into_iter()
            .find(|w| {
                w.bytes() <= max.bytes() && count >= w.bytes() && offset % w.bytes() as u64 == 0
            })
    }
}

/// A handle on a PCI function bound to this module's driver.
///
/// Handles are made only by the driver adapter, at probe ([`Binding::new`]), and the
/// adapter's remove (or failed probe) returns only once every handle is gone
/// ([`Binding::wait_unused`]). So whatever holds a handle (an open device, a BAR mapping, an
/// interrupt handler, a runtime PM reference) holds a bound device, and the resources it
/// claimed are released before the PCI core unbinds: as upstream, where unregistering a
/// VFIO device waits for its users, the wait is the revocation.
///
/// # Invariants
///
/// `handles.pdev` is bound to this module's PCI driver for as long as any `PciFunction` of
/// the same `Handles` exists.
#[derive(Clone)]
pub(crate) struct PciFunction {
    handles: Arc<Handles>,
}

/// What the handles of one binding share; the last one to go signals the adapter.
struct Handles {
    pdev: ARef<pci::Device>,
    unused: Arc<Unused>,
}

/// Signalled when the last handle of a binding is dropped.
#[pin_data]
struct Unused {
    #[pin]
    done: Completion,
}

impl Drop for Handles {
    fn drop(&mut self) {
        self.unused.done.complete_all();
    }
}

/// The driver adapter's side of a binding: made in probe, waited for before remove (or a
/// failed probe) returns.
pub(crate) struct Binding {
    unused: Arc<Unused>,
}

impl Binding {
    /// Starts the binding of `pdev`, being probed; its first handle.
    pub(crate) fn new(pdev: &pci::Device<Core<'_>>) -> Result<(Self, PciFunction)> {
        let unused = Arc::pin_init(pin_init!(Unused { done <- Completion::new() }), GFP_KERNEL)?;
        let handles = Arc::new(
            Handles {
                pdev: pdev.into(),
                unused: unused.clone(),
            },
            GFP_KERNEL,
        )?;
        // INVARIANT: `pdev` is bound from its probe until `wait_unused` returns, which the
        // adapter calls before its probe fails or its remove returns.
        Ok((Self { unused }, PciFunction { handles }))
    }

    /// Waits until every handle is dropped; then the device may be unbound.
    pub(crate) fn wait_unused(self) {
        self.unused.done.wait_for_completion();
    }
}

impl PciFunction {
    /// The generic device, bound (type invariant).
    pub(crate) fn dev(&self) -> &Device<Bound> {
        self.bound().as_ref()
    }

    /// The PCI device, bound (type invariant).
    fn bound(&self) -> &pci::Device<Bound> {
        let pdev: &pci::Device = &self.handles.pdev;
        // CAST: `pci::Device<Ctx>` is `#[repr(transparent)]` over the C struct for every
        // context; the context is a compile-time marker only.
        let ptr = core::ptr::from_ref(pdev).cast::<pci::Device<Bound>>();
        // SAFETY: `ptr` is the live device of `pdev`, bound while `self` exists (type
        // invariant), which the returned borrow of `self` does not outlive.
        unsafe { &*ptr }
    }

    /// The `struct pci_dev`, for the other wrappers of `kernel_ext/`.
    pub(super) fn raw(&self) -> *mut bindings::pci_dev {
        pci_dev_ptr(&self.handles.pdev)
    }

    /// `pci_enable_device()`.
    pub(crate) fn enable(&self) -> Result {
        // SAFETY: A live, bound device (type invariant).
        kernel::error::to_result(unsafe { bindings::pci_enable_device(self.raw()) })
    }

    /// `pci_disable_device()`, pairing a successful [`Self::enable`].
    pub(crate) fn disable(&self) {
        // SAFETY: As in `enable`.
        unsafe { bindings::pci_disable_device(self.raw()) }
    }

    /// Stops the device from mastering the bus (no more DMA or MSI).
    pub(crate) fn clear_master(&self) {
        // SAFETY: As in `enable`.
        unsafe { bindings::pci_clear_master(self.raw()) }
    }

    /// `pci_try_reset_function()`: -EAGAIN when the device lock is contended.
    pub(crate) fn try_reset(&self) -> Result {
        // SAFETY: As in `enable`.
        kernel::error::to_result(unsafe { bindings::pci_try_reset_function(self.raw()) })
    }

    /// Saves config space into the device's own saved state and returns a copy to restore
    /// later (`None` if it could not be stored).
    pub(crate) fn save_state(&self) -> Option<SavedState> {
        // SAFETY: As in `enable`.
        unsafe { bindings::pci_save_state(self.raw()) };
        // SAFETY: As in `enable`; the result is a fresh allocation or NULL.
        let raw = unsafe { bindings::pci_store_saved_state(self.raw()) };
        // INVARIANT: owned, from `pci_store_saved_state`.
        core::ptr::NonNull::new(raw).map(|raw| SavedState { raw })
    }

    /// Loads `state` as the device's saved state (consuming it); an error when it did not
    /// apply, leaving the previous saved state.
    pub(crate) fn load_saved_state(&self, state: SavedState) -> Result {
        let mut raw = state.raw.as_ptr();
        core::mem::forget(state);
        // SAFETY: A live device; `raw` is an owned saved state, which this call frees (and
        // sets to NULL) in every case.
        kernel::error::to_result(unsafe {
            bindings::pci_load_and_free_saved_state(self.raw(), &mut raw)
        })
    }

    /// A copy of the device's saved state (the last `pci_save_state()`), or `None` if the
    /// allocation fails.
    pub(crate) fn store_saved_state(&self) -> Option<SavedState> {
        // SAFETY: As in `enable`; the result is a fresh allocation or NULL.
        let raw = unsafe { bindings::pci_store_saved_state(self.raw()) };
        // INVARIANT: owned, from `pci_store_saved_state`.
        core::ptr::NonNull::new(raw).map(|raw| SavedState { raw })
    }

    /// Re-saves the current config space as the device's saved state.
    pub(crate) fn resave_state(&self) {
        // SAFETY: As in `enable`.
        unsafe { bindings::pci_save_state(self.raw()) };
    }

    /// Writes the device's saved state back to config space.
    pub(crate) fn restore_state(&self) {
        // SAFETY: As in `enable`.
        unsafe { bindings::pci_restore_state(self.raw()) }
    }

    /// Resets the function with both it and its upstream bridge locked, when both locks can
    /// be had without waiting; returns whether a reset happened.
    pub(crate) fn try_reset_locked(&self) -> bool {
        // SAFETY: A live device; the bridge, if any, outlives its child.
        let bridge = unsafe { rvfio_pci_upstream_bridge(self.raw()) };
        // SAFETY: A live device (bridge or ourselves) in each call below, unlocked only if
        // the trylock succeeded.
        unsafe {
            if !bridge.is_null() && bindings::pci_dev_trylock(bridge) == 0 {
                return false;
            }
            let mut reset = false;
            if bindings::pci_dev_trylock(self.raw()) != 0 {
                reset = bindings::__pci_reset_function_locked(self.raw()) == 0;
                bindings::pci_dev_unlock(self.raw());
            }
            if !bridge.is_null() {
                bindings::pci_dev_unlock(bridge);
            }
            reset
        }
    }

    /// Changes the power state (`pci_set_power_state()`).
    pub(crate) fn set_power_state(&self, state: PowerState) -> Result {
        // CAST: the enum mirrors `pci_power_t`.
        // SAFETY: As in `enable`.
        kernel::error::to_result(unsafe {
            bindings::pci_set_power_state(self.raw(), state as bindings::pci_power_t)
        })
    }

    /// Whether the device is in D3hot or deeper (memory unreachable).
    pub(crate) fn in_d3(&self) -> bool {
        // SAFETY: A live device; `current_state` is an `int` the PM core updates, read
        // racily by design (as upstream does).
        unsafe { (*self.raw()).current_state >= PowerState::D3Hot as c_int }
    }

    /// Size of config space: 256 or 4096.
    pub(crate) fn cfg_size(&self) -> usize {
        // SAFETY: Set at enumeration, then constant.
        let size = unsafe { (*self.raw()).cfg_size };
        // CAST: 256 or 4096.
        size as usize
    }

    /// The legacy interrupt line's Linux IRQ number (0 if none).
    pub(crate) fn irq(&self) -> u32 {
        // SAFETY: Set at enumeration; constant while bound without MSI enabled by us.
        unsafe { (*self.raw()).irq }
    }

    /// The AtomicOp completion sizes (`PCI_EXP_DEVCAP2_ATOMIC_COMP*` bits) that the
    /// physical function of this device completes and its root port completes for it:
    /// each size its Device Capabilities 2 has for which `pci_enable_atomic_ops_to_root()`
    /// succeeds, which enables the function's AtomicOp requests (upstream's
    /// `vfio_pci_info_atomic_cap()`).
    pub(crate) fn atomic_ops_to_root(&self) -> u32 {
        const SIZES: [u32; 3] = [
            bindings::PCI_EXP_DEVCAP2_ATOMIC_COMP32,
            bindings::PCI_EXP_DEVCAP2_ATOMIC_COMP64,
            bindings::PCI_EXP_DEVCAP2_ATOMIC_COMP128,
        ];
        // SAFETY: As in `enable`; a VF's physical function outlives it.
        let pf = unsafe { rvfio_pci_physfn(self.raw()) };
        let mut devcap2 = 0u32;
        // SAFETY: `pf` is a live device; the out-pointer is a valid local. A device
        // without a PCI Express capability reads as 0.
        unsafe {
            bindings::pcie_capability_read_dword(
                pf,
                bindings::PCI_EXP_DEVCAP2 as c_int,
                &mut devcap2,
            )
        };
        SIZES
            .into_iter()
            .filter(|&size| devcap2 & size != 0)
            // SAFETY: `pf` is a live device.
            .filter(|&size| unsafe { bindings::pci_enable_atomic_ops_to_root(pf, size) } == 0)
            .fold(0, |sizes, size| sizes | size)
    }

    /// Offset of capability `id` in config space, 0 if absent.
    pub(crate) fn find_capability(&self, id: u8) -> u8 {
        // SAFETY: As in `enable`.
        unsafe { bindings::pci_find_capability(self.raw(), c_int::from(id)) }
    }

    /// Reads config space the way user accesses must (blocked while a reset is running).
    pub(crate) fn config_read(&self, offset: usize, width: Width) -> Result<u32> {
        let dev = self.raw();
        // CAST: offsets are below 4096.
        let at = offset as c_int;
        // SAFETY: A live device; the out-pointers are valid locals.
        let ret = unsafe {
            match width {
                Width::W8 => {
                    let mut v = 0u8;
                    let r = bindings::pci_user_read_config_byte(dev, at, &mut v);
                    (r, u32::from(v))
                }
                Width::W16 => {
                    let mut v = 0u16;
                    let r = bindings::pci_user_read_config_word(dev, at, &mut v);
                    (r, u32::from(v))
                }
                Width::W32 | Width::W64 => {
                    let mut v = 0u32;
                    let r = bindings::pci_user_read_config_dword(dev, at, &mut v);
                    (r, v)
                }
            }
        };
        kernel::error::to_result(ret.0)?;
        Ok(ret.1)
    }

    /// Writes config space the way user accesses must.
    pub(crate) fn config_write(&self, offset: usize, width: Width, value: u32) -> Result {
        let dev = self.raw();
        // CAST: offsets are below 4096.
        let at = offset as c_int;
        // CAST: each arm keeps the low `width` bytes, the value written.
        // SAFETY: A live device.
        let ret = unsafe {
            match width {
                Width::W8 => bindings::pci_user_write_config_byte(dev, at, value as u8),
                Width::W16 => bindings::pci_user_write_config_word(dev, at, value as u16),
                Width::W32 | Width::W64 => bindings::pci_user_write_config_dword(dev, at, value),
            }
        };
        kernel::error::to_result(ret)
    }

    /// Resource `index` (0-5: BARs, 6: ROM).
    pub(crate) fn resource(&self, index: u32) -> Resource {
        if index > ROM_RESOURCE {
            return Resource::default();
        }
        // CAST: a small index.
        let bar = index as c_int;
        // SAFETY: A live device and an index within `resource[]`; resources are assigned
        // before binding and not moved while a driver is bound.
        unsafe {
            Resource {
                start: bindings::pci_resource_start(self.raw(), bar),
                len: bindings::pci_resource_len(self.raw(), bar),
                // CAST: `unsigned long` is 64 bits here.
                flags: (*self.raw()).resource[index as usize].flags as u64,
            }
        }
    }

    /// Masks INTx if this device is asserting it; whether it was (PCI 2.3 masking).
    /// Callable in hard-IRQ context.
    pub(crate) fn check_and_mask_intx(&self) -> bool {
        // SAFETY: As in `enable`; the function takes the config-access spinlock.
        unsafe { bindings::pci_check_and_mask_intx(self.raw()) }
    }

    /// Unmasks INTx unless an interrupt is pending; whether it unmasked.
    pub(crate) fn check_and_unmask_intx(&self) -> bool {
        // SAFETY: As in `check_and_mask_intx`.
        unsafe { bindings::pci_check_and_unmask_intx(self.raw()) }
    }

    /// Whether INTx can be masked at the device (PCI 2.3 COMMAND.INTX_DISABLE works: the
    /// PCI core found no broken masking).
    pub(crate) fn intx_mask_supported(&self) -> bool {
        // SAFETY: As in `enable`; the bit is set at enumeration.
        unsafe { rvfio_pci_intx_mask_supported(self.raw()) }
    }

    /// Sets COMMAND.INTX_DISABLE to `!enable`.
    pub(crate) fn intx(&self, enable: bool) {
        // SAFETY: As in `enable`.
        unsafe { bindings::pci_intx(self.raw(), c_int::from(enable)) }
    }
}

/// A saved copy of a device's config state (`struct pci_saved_state`).
///
/// # Invariants
///
/// `raw` is owned: allocated by `pci_store_saved_state()`, freed once.
pub(crate) struct SavedState {
    raw: core::ptr::NonNull<bindings::pci_saved_state>,
}

// SAFETY: Plain memory, owned.
unsafe impl Send for SavedState {}
// SAFETY: No `&self` methods.
unsafe impl Sync for SavedState {}

impl Drop for SavedState {
    fn drop(&mut self) {
        // SAFETY: Owned (type invariant); `kfree` is how the PCI core frees it too.
        unsafe { bindings::kfree(self.raw.as_ptr().cast()) };
    }
}

// `struct pci_dev` has a zero-sized member that trips the lint; only pointers cross here.
#[allow(improper_ctypes)]
extern "C" {
    /// `pci_upstream_bridge()`, a static inline (`pci_raw_helpers.c`).
    fn rvfio_pci_upstream_bridge(pdev: *mut bindings::pci_dev) -> *mut bindings::pci_dev;
    fn rvfio_pci_intx_mask_supported(pdev: *mut bindings::pci_dev) -> bool;
    /// `pci_physfn()`: the function itself unless it is a VF.
    pub(super) fn rvfio_pci_physfn(pdev: *mut bindings::pci_dev) -> *mut bindings::pci_dev;
}

/// The header type (`pdev->hdr_type`, without the multi-function bit).
pub(crate) fn header_type(pdev: &pci::Device) -> u8 {
    // SAFETY: `pdev` is live for the borrow; `hdr_type` is set at enumeration and then
    // never changes.
    unsafe { (*pci_dev_ptr(pdev)).hdr_type }
}

/// The `struct pci_dev` behind `pdev`; the only such cast in rvfio.
fn pci_dev_ptr<Ctx: kernel::device::DeviceContext>(
    pdev: &pci::Device<Ctx>,
) -> *mut bindings::pci_dev {
    // CAST: `pci::Device<Ctx>` is `#[repr(transparent)]` over `Opaque<bindings::pci_dev>`,
    // itself `#[repr(transparent)]` over the C struct; used only while `pdev` lives.
    core::ptr::from_ref(pdev).cast_mut().cast()
}
