// SPDX-License-Identifier: GPL-2.0

//! The functions a bound function's slot or bus reset reaches (upstream's hot reset and
//! dev_set), walked under the PCI bus lock.

use core::marker::PhantomData;
use kernel::{
    bindings,
    ffi::c_int,
    prelude::*, //
};

use super::pci_raw::PciFunction;

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

// `struct pci_dev` has a zero-sized member that trips the lint; only pointers cross here.
#[allow(improper_ctypes)]
extern "C" {
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
