// SPDX-License-Identifier: GPL-2.0

//! Lazily faulted, revocable PFN mappings of device memory (BAR mmaps).
//!
//! An `mmap()` only marks the VMA as an uncached `VM_PFNMAP` mapping served by
//! [`PfnFault::fault`]; frames are inserted on first touch, under whatever lock the handler
//! holds, so that a zap of the device's mappings (`unmap_mapping_range()` on the device
//! inode) followed by refusing faults revokes userspace access completely. This is upstream
//! vfio-pci's scheme (`vfio_pci_mmap_huge_fault`): where the architecture has PFN leaves
//! of PMD and PUD size, a fault maps the whole aligned block of that size around the
//! faulting address when the block lies in the VMA and its frames are aligned as it is, and
//! falls back to smaller blocks otherwise.
//!
//! VMA and fault fields are read in C (`pfn_mmap_helpers.c` beside this file).

use core::marker::PhantomData;
use kernel::{
    bindings,
    ffi::{
        c_uint,
        c_ulong,
        c_void, //
    },
};

// `struct vm_area_struct`/`vm_fault` have zero-sized members that trip the lint; only
// pointers cross here.
#[allow(improper_ctypes)]
extern "C" {
    fn rvfio_vma_describe(
        vma: *const bindings::vm_area_struct,
        start: *mut c_ulong,
        end: *mut c_ulong,
        pgoff: *mut c_ulong,
        shared: *mut bool,
    );
    fn rvfio_vma_set_pfnmap(
        vma: *mut bindings::vm_area_struct,
        ops: *const bindings::vm_operations_struct,
        private: *mut c_void,
    );
    fn rvfio_vmf_private(vmf: *const bindings::vm_fault) -> *mut c_void;
    fn rvfio_vmf_block(vmf: *const bindings::vm_fault, order: c_uint, pgoff: *mut c_ulong) -> bool;
    fn rvfio_vmf_insert_pfn(
        vmf: *mut bindings::vm_fault,
        pfn: c_ulong,
        order: c_uint,
    ) -> bindings::vm_fault_t;
}

/// The result of a fault handler (`vm_fault_t`).
#[derive(Clone, Copy)]
pub(crate) struct FaultResult(bindings::vm_fault_t);

impl FaultResult {
    /// The access gets `SIGBUS`.
    pub(crate) const SIGBUS: Self = Self(bindings::vm_fault_reason_VM_FAULT_SIGBUS);
    /// Not with a block of this size: the MM retries with a smaller one.
    const FALLBACK: Self = Self(bindings::vm_fault_reason_VM_FAULT_FALLBACK);
}

/// Serves faults of the PFN mappings set up through [`MmapRequest::setup_pfnmap`].
pub(crate) trait PfnFault: Sync + Sized + 'static {
    /// Resolves the fault of the block at file page offset `fault.pgoff()`, typically by
    /// checking that the memory is reachable and calling [`Fault::insert_pfn`] with the
    /// block's first frame under the lock that revocation takes.
    fn fault(&self, fault: &mut Fault<'_>) -> FaultResult;
}

/// A fault in progress on one of our PFN mappings: of a naturally aligned block of
/// `2^order` pages that lies in the VMA.
///
/// # Invariants
///
/// `vmf` is the fault being handled, for the duration of the handler call `'a`, and `order`
/// the order the MM asks for; the block of that order around the faulting address lies in
/// the VMA, and `pgoff` is its first page's file offset.
pub(crate) struct Fault<'a> {
    vmf: *mut bindings::vm_fault,
    order: u32,
    pgoff: u64,
    _call: PhantomData<&'a mut ()>,
}

impl Fault<'_> {
    /// The file page offset of the block's first page (region index << 28 | page).
    pub(crate) fn pgoff(&self) -> u64 {
        self.pgoff
    }

    /// Maps the block to the frames from `pfn`, or asks for a smaller block if they are
    /// not aligned to its size.
    pub(crate) fn insert_pfn(&mut self, pfn: u64) -> FaultResult {
        if pfn & ((1u64 << self.order) - 1) != 0 {
            return FaultResult::FALLBACK;
        }
        // SAFETY: A live fault on a `VM_PFNMAP` VMA (type invariant; only our VMAs reach
        // the handler) whose block lies in the VMA; `pfn` is aligned to the block. The
        // insertion validates `pfn` against the VMA's flags.
        // CAST: page frame numbers fit `unsigned long`, 64 bits here.
        FaultResult(unsafe { rvfio_vmf_insert_pfn(self.vmf, pfn as c_ulong, self.order) })
    }
}

/// The `vm_operations_struct` of PFN mappings served by `T`.
struct VmOps<T: PfnFault>(PhantomData<T>);

impl<T: PfnFault> VmOps<T> {
    const OPS: bindings::vm_operations_struct = bindings::vm_operations_struct {
        fault: Some(Self::fault),
        #[cfg(CONFIG_ARCH_SUPPORTS_HUGE_PFNMAP)]
        huge_fault: Some(Self::huge_fault),
        // SAFETY: All-zero is the valid "no operation" value of every other field.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    /// # Safety
    ///
    /// Called by the MM for a page fault on a VMA that [`MmapRequest::setup_pfnmap`] set
    /// up with a `T`.
    unsafe extern "C" fn fault(vmf: *mut bindings::vm_fault) -> bindings::vm_fault_t {
        // SAFETY: The same call, for a block of one page.
        unsafe { Self::huge_fault(vmf, 0) }
    }

    /// # Safety
    ///
    /// Called by the MM for a fault of order `order` on a VMA that
    /// [`MmapRequest::setup_pfnmap`] set up with a `T`.
    unsafe extern "C" fn huge_fault(
        vmf: *mut bindings::vm_fault,
        order: c_uint,
    ) -> bindings::vm_fault_t {
        let mut pgoff = 0;
        // SAFETY: A live fault (function contract); `pgoff` is a valid out-pointer.
        if !unsafe { rvfio_vmf_block(vmf, order, &mut pgoff) } {
            return FaultResult::FALLBACK.0;
        }
        // SAFETY: The VMA's private data is the `&T` given to `setup_pfnmap`, which
        // outlives the VMA (its contract).
        let handler = unsafe { &*rvfio_vmf_private(vmf).cast::<T>() };
        // INVARIANT: the fault being handled, for this call, whose block lies in the VMA
        // from `pgoff` on (checked above).
        let mut fault = Fault {
            vmf,
            order,
            // CAST: widening, `unsigned long` is 64 bits here.
            pgoff: pgoff as u64,
            _call: PhantomData,
        };
        handler.fault(&mut fault).0
    }
}

/// An `mmap()` request being served.
///
/// # Invariants
///
/// `vma` is the VMA of an `mmap()` call in progress, for the lifetime `'a` of that call.
pub(crate) struct MmapRequest<'a> {
    vma: *mut bindings::vm_area_struct,
    _call: PhantomData<&'a mut ()>,
}

/// The geometry of an [`MmapRequest`].
pub(crate) struct MmapGeometry {
    /// First user address.
    pub(crate) start: u64,
    /// One past the last user address.
    pub(crate) end: u64,
    /// File offset of `start`, in pages.
    pub(crate) pgoff: u64,
    /// `MAP_SHARED`.
    pub(crate) shared: bool,
}

impl<'a> MmapRequest<'a> {
    /// Wraps the VMA of an `mmap()` call.
    ///
    /// # Safety
    ///
    /// `vma` must be the VMA of an `mmap()` call in progress and live for `'a`.
    pub(crate) unsafe fn from_raw(vma: *mut bindings::vm_area_struct) -> Self {
        // INVARIANT: the caller's contract.
        Self {
            vma,
            _call: PhantomData,
        }
    }

    /// What is being mapped.
    pub(crate) fn geometry(&self) -> MmapGeometry {
        let (mut start, mut end, mut pgoff, mut shared) = (0, 0, 0, false);
        // SAFETY: A live VMA (type invariant); the out-pointers are valid locals.
        unsafe { rvfio_vma_describe(self.vma, &mut start, &mut end, &mut pgoff, &mut shared) };
        // CAST: widening, `unsigned long` is 64 bits here.
        MmapGeometry {
            start: start as u64,
            end: end as u64,
            pgoff: pgoff as u64,
            shared,
        }
    }

    /// Makes the VMA an uncached, lazily faulted PFN mapping whose faults `handler` serves.
    ///
    /// # Safety
    ///
    /// `handler` must outlive the VMA and every VMA split or copied from it.
    pub(crate) unsafe fn setup_pfnmap<T: PfnFault>(self, handler: &T) {
        let private = core::ptr::from_ref(handler).cast_mut().cast::<c_void>();
        // SAFETY: A live VMA being set up (type invariant); the ops are static; `private`
        // outlives the VMA (caller contract).
        unsafe { rvfio_vma_set_pfnmap(self.vma, &VmOps::<T>::OPS, private) };
    }
}
