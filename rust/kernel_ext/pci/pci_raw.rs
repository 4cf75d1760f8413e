// SPDX-License-Identifier: GPL-2.0

//! The PCI operations vfio-pci needs that 7.3's `pci::Device` does not offer: enable and
//! reset, saved state, user config access, resources, INTx masking and IRQ vectors.
//!
//! [`PciFunction`] is the only holder of a raw `struct pci_dev` pointer in rvfio.

use core::marker::PhantomData;
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

    /// Allocates between `min` and `max` MSI (or MSI-X) vectors.
    pub(crate) fn alloc_irq_vectors(&self, min: u32, max: u32, msix: bool) -> Result<IrqVectors> {
        let kind = if msix {
            bindings::PCI_IRQ_MSIX
        } else {
            bindings::PCI_IRQ_MSI
        };
        // SAFETY: As in `enable`.
        let ret = unsafe { bindings::pci_alloc_irq_vectors(self.raw(), min, max, kind) };
        kernel::error::to_result(ret)?;
        // INVARIANT: allocated just now.
        Ok(IrqVectors {
            function: self.clone(),
            // CAST: non-negative.
            count: ret as u32,
        })
    }

    /// Whether MSI-X vectors can be added while MSI-X is enabled.
    pub(crate) fn msix_can_alloc_dyn(&self) -> bool {
        // SAFETY: As in `enable`.
        unsafe { bindings::pci_msix_can_alloc_dyn(self.raw()) }
    }

    /// Whether this is an SR-IOV virtual function.
    pub(crate) fn is_virtfn(&self) -> bool {
        // SAFETY: A live device; the bit is set at enumeration.
        unsafe { rvfio_pci_is_virtfn(self.raw()) }
    }

    /// Whether this is an SR-IOV physical function (has the SR-IOV capability).
    pub(crate) fn is_physfn(&self) -> bool {
        // SAFETY: As in `is_virtfn`.
        unsafe { rvfio_pci_is_physfn(self.raw()) }
    }

    /// Whether `self` is the physical function of VF `vf`.
    pub(crate) fn is_physfn_of(&self, vf: &PciFunction) -> bool {
        // SAFETY: A live device; its PF outlives it.
        core::ptr::eq(unsafe { rvfio_pci_physfn(vf.raw()) }, self.raw())
    }

    /// Number of VFs enabled.
    pub(crate) fn num_vf(&self) -> u32 {
        // SAFETY: As in `enable`.
        let n = unsafe { bindings::pci_num_vf(self.raw()) };
        // CAST: a count, never negative.
        n.max(0) as u32
    }

    /// Enables `count` VFs (with the device lock held, as in `sriov_configure`).
    pub(crate) fn enable_sriov(&self, count: u32) -> Result {
        // CAST: counts are bounded by TotalVFs, a 16-bit field.
        // SAFETY: As in `enable`.
        kernel::error::to_result(unsafe { bindings::pci_enable_sriov(self.raw(), count as c_int) })
    }

    /// Disables SR-IOV (removing the VFs).
    pub(crate) fn disable_sriov(&self) {
        // SAFETY: As in `enable`.
        unsafe { bindings::pci_disable_sriov(self.raw()) }
    }

    /// Starts giving new VFs of this PF the `vfio-pci` driver override.
    pub(crate) fn capture_vfs(&self) -> Result<VfCapture> {
        // SAFETY: A live PF; the capture is stopped (`Drop`) before the PF is unbound.
        let raw = kernel::error::from_err_ptr(unsafe { rvfio_vf_capture_start(self.raw()) })?;
        // INVARIANT: registered just now.
        Ok(VfCapture {
            raw: core::ptr::NonNull::new(raw).ok_or(ENOMEM)?,
        })
    }

    /// Maps resource `index` for CPU access, claiming it for `vfio-pci`.
    pub(crate) fn map_bar(&self, index: u32) -> Result<BarMap> {
        let resource = self.resource(index);
        if index >= ROM_RESOURCE || resource.start == 0 || resource.len == 0 {
            return Err(EINVAL);
        }
        // CAST: a BAR index below 6.
        let mask = 1 << index;
        // SAFETY: As in `enable`; the name is static.
        kernel::error::to_result(unsafe {
            bindings::pci_request_selected_regions(self.raw(), mask, c"vfio-pci".as_char_ptr())
        })?;
        // CAST: a BAR index below 6.
        // SAFETY: As in `enable`; the region is ours now.
        let base = unsafe { bindings::pci_iomap(self.raw(), index as c_int, 0) };
        let Some(base) = core::ptr::NonNull::new(base) else {
            // SAFETY: Undoes the request above.
            unsafe { bindings::pci_release_selected_regions(self.raw(), mask) };
            return Err(ENOMEM);
        };
        // INVARIANT: mapped and claimed just now, `len` bytes.
        Ok(BarMap {
            function: self.clone(),
            index,
            base,
            len: resource.len,
        })
    }

    /// Maps the expansion ROM (enabling its decode) for reading.
    pub(crate) fn map_rom(&self) -> Option<RomMap> {
        let mut size = 0usize;
        // SAFETY: As in `enable`; `size` is a valid out-pointer.
        let base = unsafe { bindings::pci_map_rom(self.raw(), &mut size) };
        // INVARIANT: mapped just now, `size` bytes.
        core::ptr::NonNull::new(base).map(|base| RomMap {
            function: self.clone(),
            base,
            // CAST: `usize` is 64 bits.
            len: size as u64,
        })
    }
}

/// The reset that reaches a function together with others (upstream's hot reset).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ResetScope {
    /// A slot reset: the functions in the function's slot.
    Slot,
    /// A secondary bus reset: every function on and below the function's bus.
    Bus,
}

/// What the functions sharing a function's reset have in common (upstream's dev_set
/// key): compared, never dereferenced.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct DevSetKey(usize);

/// A function met while walking a reset scope, borrowed for one step of the walk.
///
/// # Invariants
///
/// `raw` is a live `struct pci_dev` for `'a` (the PCI bus lock is held by the walk).
pub(crate) struct ScopeFunction<'a> {
    raw: *mut bindings::pci_dev,
    _walk: PhantomData<&'a ()>,
}

impl ScopeFunction<'_> {
    /// Segment (PCI domain), bus number and device/function number.
    pub(crate) fn location(&self) -> (u16, u8, u8) {
        let (mut segment, mut bus, mut devfn) = (0, 0, 0);
        // SAFETY: A live device (type invariant); the out-pointers are valid locals.
        unsafe { rvfio_pci_location(self.raw, &mut segment, &mut bus, &mut devfn) };
        (segment, bus, devfn)
    }

    /// The number of its IOMMU group, if it has one.
    pub(crate) fn iommu_group_id(&self) -> Option<u32> {
        // SAFETY: A live device (type invariant).
        let id = unsafe { rvfio_pci_iommu_group_id(self.raw) };
        u32::try_from(id).ok()
    }

    /// Whether this is `function`.
    pub(crate) fn is(&self, function: &PciFunction) -> bool {
        core::ptr::eq(self.raw, function.raw())
    }
}

/// The state of a [`PciFunction::for_each_in_scope`] walk.
struct ScopeWalk<F> {
    f: F,
    /// The error that stopped the walk.
    error: Option<Error>,
}

/// The per-function callback of a walk, calling the walk's closure.
///
/// # Safety
///
/// `pdev` is a live device for the call and `data` the `ScopeWalk<F>` of the walk running.
unsafe extern "C" fn scope_walk_step<F: FnMut(&ScopeFunction<'_>) -> Result>(
    pdev: *mut bindings::pci_dev,
    data: *mut core::ffi::c_void,
) -> c_int {
    // SAFETY: `data` is the walk's exclusive `ScopeWalk<F>` (caller contract).
    let walk = unsafe { &mut *data.cast::<ScopeWalk<F>>() };
    // INVARIANT: `pdev` is live for the call (caller contract) and the value does not
    // outlive it.
    let function = ScopeFunction {
        raw: pdev,
        _walk: PhantomData,
    };
    match (walk.f)(&function) {
        Ok(()) => 0,
        Err(e) => {
            walk.error = Some(e);
            // Any non-zero value stops the walk; the error itself is kept in `walk`.
            1
        }
    }
}

impl PciFunction {
    /// Which reset reaches this function along with others: a slot reset if its slot has
    /// one, else a bus reset; -ENODEV if neither exists (upstream's probing order).
    pub(crate) fn reset_scope(&self) -> Result<ResetScope> {
        // SAFETY: A live, bound device (type invariant).
        match unsafe { rvfio_pci_reset_scope(self.raw()) } {
            1 => Ok(ResetScope::Slot),
            0 => Ok(ResetScope::Bus),
            e => Err(Error::from_errno(e)),
        }
    }

    /// Calls `f` for every function a `scope` reset of this function reaches, in bus
    /// order, stopping at the first error, which is returned.
    pub(crate) fn for_each_in_scope<F>(&self, scope: ResetScope, f: F) -> Result
    where
        F: FnMut(&ScopeFunction<'_>) -> Result,
    {
        let mut walk = ScopeWalk { f, error: None };
        // SAFETY: A live device; `scope_walk_step::<F>` gets `walk`, which outlives the
        // synchronous walk, and live devices only.
        let ret = unsafe {
            rvfio_pci_walk_reset_scope(
                self.raw(),
                scope == ResetScope::Slot,
                Some(scope_walk_step::<F>),
                core::ptr::from_mut(&mut walk).cast(),
            )
        };
        match walk.error {
            Some(e) => Err(e),
            None => kernel::error::to_result(ret),
        }
    }

    /// Resets the slot or bus this function is on (`pci_reset_bus()`), with every
    /// function there saved before and restored after; -EAGAIN if one of them is busy.
    pub(crate) fn reset_bus(&self) -> Result {
        // SAFETY: A live, bound device (type invariant).
        kernel::error::to_result(unsafe { bindings::pci_reset_bus(self.raw()) })
    }

    /// The key of the set of functions sharing this function's reset.
    pub(crate) fn dev_set_key(&self) -> DevSetKey {
        // SAFETY: A live, bound device (type invariant).
        let key = unsafe { rvfio_pci_dev_set_key(self.raw()) };
        // CAST: only compared, as an address.
        DevSetKey(key as usize)
    }
}

/// A bus notifier giving the VFs of a PF the `vfio-pci` driver override as they appear.
///
/// # Invariants
///
/// `raw` is a registered capture from `rvfio_vf_capture_start()`, stopped once in [`Drop`].
pub(crate) struct VfCapture {
    raw: core::ptr::NonNull<RawVfCapture>,
}

/// `struct rvfio_vf_capture` of `rust/vfio_pci/helpers.c`.
#[repr(C)]
struct RawVfCapture {
    _opaque: [u8; 0],
}

// SAFETY: Unregistering a bus notifier may happen on any thread.
unsafe impl Send for VfCapture {}
// SAFETY: No `&self` methods.
unsafe impl Sync for VfCapture {}

impl Drop for VfCapture {
    fn drop(&mut self) {
        // SAFETY: Registered (type invariant), stopped once here.
        unsafe { rvfio_vf_capture_stop(self.raw.as_ptr()) };
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

/// A BAR mapped for CPU access (`pci_iomap`), with its region claimed.
///
/// # Invariants
///
/// `base` maps `len` bytes of BAR `index` of `function`, claimed with
/// `pci_request_selected_regions()`; both are undone once, in [`Drop`].
pub(crate) struct BarMap {
    function: PciFunction,
    index: u32,
    base: core::ptr::NonNull<core::ffi::c_void>,
    len: u64,
}

// SAFETY: MMIO/port accesses may be issued from any thread.
unsafe impl Send for BarMap {}
// SAFETY: Same; each access is a single bus transaction (or two for 64-bit).
unsafe impl Sync for BarMap {}

impl BarMap {
    /// Reads `width` bytes at `offset`; -EINVAL outside the BAR.
    pub(crate) fn read(&self, offset: u64, width: Width) -> Result<u64> {
        let addr = io_addr(self.base, self.len, offset, width)?;
        Ok(io_read(addr, width))
    }

    /// Writes the low `width` bytes of `value` at `offset`; -EINVAL outside the BAR.
    pub(crate) fn write(&self, offset: u64, width: Width, value: u64) -> Result {
        let addr = io_addr(self.base, self.len, offset, width)?;
        // CAST: each arm writes the low `width` bytes, the value asked for.
        // SAFETY: `addr` is inside the mapping (checked by `io_addr`) for `width` bytes.
        unsafe {
            match width {
                Width::W8 => bindings::iowrite8(value as u8, addr),
                Width::W16 => bindings::iowrite16(value as u16, addr),
                Width::W32 => bindings::iowrite32(value as u32, addr),
                // As upstream on x86: two 32-bit accesses, low half first.
                Width::W64 => bindings::__iowrite64_lo_hi(value, addr),
            }
        }
        Ok(())
    }
}

impl Drop for BarMap {
    fn drop(&mut self) {
        let raw = self.function.raw();
        // SAFETY: Mapped and claimed (type invariant), undone once here.
        unsafe {
            bindings::pci_iounmap(raw, self.base.as_ptr());
            bindings::pci_release_selected_regions(raw, 1 << self.index);
        }
    }
}

/// The MSI or MSI-X vectors of a function, freed when dropped: drop the handlers of their
/// lines first (a `Drop` order the holder's field order states).
///
/// # Invariants
///
/// `count` vectors of `function` were allocated by `pci_alloc_irq_vectors()`, and are freed
/// once, in [`Drop`].
pub(crate) struct IrqVectors {
    function: PciFunction,
    count: u32,
}

impl IrqVectors {
    /// How many vectors were allocated.
    pub(crate) fn count(&self) -> u32 {
        self.count
    }

    /// The Linux IRQ number of vector `n`.
    pub(crate) fn irq(&self, n: u32) -> Result<u32> {
        // SAFETY: A bound function (`PciFunction` invariant) with vectors allocated.
        let ret = unsafe { bindings::pci_irq_vector(self.function.raw(), n) };
        kernel::error::to_result(ret)?;
        // CAST: non-negative.
        Ok(ret as u32)
    }

    /// Adds MSI-X vector `index` while MSI-X is enabled; its Linux IRQ number.
    pub(crate) fn alloc_msix_at(&self, index: u32) -> Result<u32> {
        // SAFETY: As in `irq`; no affinity descriptor. The vector is freed with the rest.
        let map = unsafe {
            bindings::pci_msix_alloc_irq_at(self.function.raw(), index, core::ptr::null())
        };
        if map.index < 0 {
            return Err(Error::from_errno(map.index));
        }
        // CAST: non-negative.
        Ok(map.virq as u32)
    }
}

impl Drop for IrqVectors {
    fn drop(&mut self) {
        // SAFETY: Allocated (type invariant), freed once here.
        unsafe { bindings::pci_free_irq_vectors(self.function.raw()) }
    }
}

/// The expansion ROM mapped for reading (`pci_map_rom`).
///
/// # Invariants
///
/// `base` maps `len` bytes of `function`'s ROM, unmapped once, in [`Drop`].
pub(crate) struct RomMap {
    function: PciFunction,
    base: core::ptr::NonNull<core::ffi::c_void>,
    len: u64,
}

impl RomMap {
    /// Bytes of ROM image mapped (may be less than the ROM BAR).
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Reads `width` (at most 4) bytes at `offset`; -EINVAL outside the image.
    pub(crate) fn read(&self, offset: u64, width: Width) -> Result<u64> {
        if width == Width::W64 {
            return Err(EINVAL);
        }
        let addr = io_addr(self.base, self.len, offset, width)?;
        Ok(io_read(addr, width))
    }
}

impl Drop for RomMap {
    fn drop(&mut self) {
        // SAFETY: Mapped (type invariant), unmapped once here.
        unsafe { bindings::pci_unmap_rom(self.function.raw(), self.base.as_ptr()) };
    }
}

/// The address of `width` bytes at `offset` of an `len`-byte I/O mapping at `base`.
fn io_addr(
    base: core::ptr::NonNull<core::ffi::c_void>,
    len: u64,
    offset: u64,
    width: Width,
) -> Result<*mut core::ffi::c_void> {
    let end = offset.checked_add(width.bytes() as u64).ok_or(EINVAL)?;
    if end > len {
        return Err(EINVAL);
    }
    // CAST: `offset < len`, the size of a live mapping, so it fits `usize`.
    Ok(base
        .as_ptr()
        .cast::<u8>()
        .wrapping_add(offset as usize)
        .cast())
}

/// One read of `width` bytes at an address `io_addr` checked.
fn io_read(addr: *mut core::ffi::c_void, width: Width) -> u64 {
    // SAFETY: `addr` is inside a live I/O mapping for `width` bytes (`io_addr`).
    unsafe {
        match width {
            Width::W8 => u64::from(bindings::ioread8(addr)),
            Width::W16 => u64::from(bindings::ioread16(addr)),
            Width::W32 => u64::from(bindings::ioread32(addr)),
            // As upstream on x86: two 32-bit accesses, low half first.
            Width::W64 => bindings::__ioread64_lo_hi(addr),
        }
    }
}

// `struct pci_dev` has a zero-sized member that trips the lint; only pointers cross here.
#[allow(improper_ctypes)]
extern "C" {
    /// `pci_upstream_bridge()`, a static inline (`rust/vfio_pci/helpers.c`).
    fn rvfio_pci_upstream_bridge(pdev: *mut bindings::pci_dev) -> *mut bindings::pci_dev;
    fn rvfio_pci_is_virtfn(pdev: *mut bindings::pci_dev) -> bool;
    fn rvfio_pci_intx_mask_supported(pdev: *mut bindings::pci_dev) -> bool;
    fn rvfio_pci_is_physfn(pdev: *mut bindings::pci_dev) -> bool;
    fn rvfio_pci_physfn(pdev: *mut bindings::pci_dev) -> *mut bindings::pci_dev;
    fn rvfio_vf_capture_start(pf: *mut bindings::pci_dev) -> *mut RawVfCapture;
    fn rvfio_vf_capture_stop(capture: *mut RawVfCapture);
    fn rvfio_pci_reset_scope(pdev: *mut bindings::pci_dev) -> c_int;
    fn rvfio_pci_walk_reset_scope(
        pdev: *mut bindings::pci_dev,
        slot: bool,
        f: Option<
            unsafe extern "C" fn(
                pdev: *mut bindings::pci_dev,
                data: *mut core::ffi::c_void,
            ) -> c_int,
        >,
        data: *mut core::ffi::c_void,
    ) -> c_int;
    fn rvfio_pci_dev_set_key(pdev: *mut bindings::pci_dev) -> *const core::ffi::c_void;
    fn rvfio_pci_location(
        pdev: *mut bindings::pci_dev,
        segment: *mut u16,
        bus: *mut u8,
        devfn: *mut u8,
    );
    fn rvfio_pci_iommu_group_id(pdev: *mut bindings::pci_dev) -> c_int;
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
