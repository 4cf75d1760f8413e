// SPDX-License-Identifier: GPL-2.0

//! Pinning user memory for device DMA, and charging it to `RLIMIT_MEMLOCK`.
//!
//! 7.3's Rust has no GUP abstraction. Pages are pinned with
//! `pin_user_pages_fast(FOLL_LONGTERM)` in batches ([`PinBatch`]), then handed over to
//! [`PinnedRuns`], which records them as runs of physically contiguous page frames: the
//! unit the IOMMU maps, and all that unpinning needs later (no page-table walk, no IOMMU
//! lookup). Every pin is owned by exactly one of the two and released by its `Drop`.

use core::ptr::NonNull;
use kernel::{
    bindings,
    ffi::c_int,
    mm::{
        Mm,
        MmWithUser, //
    },
    prelude::*,
    sync::aref::ARef, //
};

use super::run_list::{
    PfnRun,
    RunList, //
};

// `struct page` has a zero-sized member that trips the lint; only pointers cross here.
#[allow(improper_ctypes)]
extern "C" {
    /// The length of the physically contiguous prefix of `npages >= 1` pages and its first
    /// frame, from `rust/kernel_ext/mm/gup_helpers.c`.
    fn rvfio_contiguous_pages(
        pages: *mut *mut bindings::page,
        npages: kernel::ffi::c_ulong,
        pfn: *mut kernel::ffi::c_ulong,
    ) -> kernel::ffi::c_ulong;
    /// `cond_resched()` then `fatal_signal_pending(current)`, from `rust/kernel_ext/mm/gup_helpers.c`.
    fn rvfio_pin_checkpoint() -> bool;
    /// `access_ok()`, from `rust/kernel_ext/mm/gup_helpers.c`.
    fn rvfio_access_ok(addr: kernel::ffi::c_ulong, size: kernel::ffi::c_ulong) -> bool;
    /// `pfn_to_page()`, from `rust/kernel_ext/mm/gup_helpers.c`.
    fn rvfio_pfn_to_page(pfn: kernel::ffi::c_ulong) -> *mut bindings::page;
    fn rvfio_in_pfnmap(mm: *mut bindings::mm_struct, vaddr: kernel::ffi::c_ulong) -> bool;
    fn rvfio_follow_pfnmap(
        mm: *mut bindings::mm_struct,
        vaddr: kernel::ffi::c_ulong,
        npages: kernel::ffi::c_ulong,
        write: bool,
        pfn: *mut kernel::ffi::c_ulong,
    ) -> kernel::ffi::c_long;

}

/// The address space of the current task, referenced (`mm_users`), or `None` for a kernel
/// thread.
///
/// This goes through `get_task_mm()` rather than 7.3's `current!().mm()`, which reads
/// `task_struct::mm` at bindgen's offset: on a GCC-built kernel that offset is wrong
/// (864 against GCC's 912 on the test kernel), and the Rust helper returns garbage.
pub(crate) fn current_mm() -> Option<ARef<MmWithUser>> {
    // SAFETY: `get_current()` is the running task, alive for the call; `get_task_mm` takes
    // a `mm_users` reference (or returns NULL) that the `ARef` now owns.
    let mm = NonNull::new(unsafe { bindings::get_task_mm(bindings::get_current()) })?;
    // SAFETY: `mm` is a live address space with a user reference we own; `MmWithUser` is a
    // transparent wrapper of `struct mm_struct` whose reference drop is `mmput`.
    Some(unsafe { ARef::from_raw(mm.cast()) })
}

/// Between two pinning batches of a long pin: yields the CPU if asked and fails with
/// -EINTR when the calling task has been killed, as GUP's slow path does by itself (its fast
/// path, used for prefaulted memory, never checks).
pub(crate) fn pin_checkpoint() -> Result {
    // SAFETY: Called from task context (an ioctl), where sleeping is allowed.
    if unsafe { rvfio_pin_checkpoint() } {
        return Err(EINTR);
    }
    Ok(())
}

/// Whether `[addr, addr + size)` is a range of user addresses at all (`access_ok()`): what
/// upstream checks of a user buffer before it is used, failing with -EINVAL rather than the
/// -EFAULT of the copy itself.
pub(crate) fn user_range_ok(addr: u64, size: u64) -> bool {
    // CAST: `unsigned long` is 64 bits wide here.
    // SAFETY: Only compares the range against the user address limit.
    unsafe { rvfio_access_ok(addr as usize, size as usize) }
}

/// log2 of the CPU page size.
pub(crate) const PAGE_SHIFT: u32 = bindings::PAGE_SHIFT;
/// The CPU page size.
pub(crate) const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;

/// Pages pinned by one call of [`PinBatch::pin_current`], not yet handed to [`PinnedRuns`].
///
/// # Invariants
///
/// Every element of `pages` (its length, not its capacity) is a page holding one
/// `FOLL_PIN` reference owned by this batch; the capacity is the batch size.
pub(crate) struct PinBatch {
    pages: KVec<*mut bindings::page>,
}

// SAFETY: Page pins are not tied to a thread.
unsafe impl Send for PinBatch {}

impl PinBatch {
    /// A batch able to pin up to `capacity` pages at a time (the array is not initialised:
    /// GUP fills it).
    pub(crate) fn new(capacity: usize) -> Result<Self> {
        Ok(Self {
            pages: KVec::with_capacity(capacity, GFP_KERNEL)?,
        })
    }

    /// Pins up to the batch capacity (and at most `npages`) pages of the calling task's
    /// address space from user address `vaddr`, for device writes too when `write`.
    /// Returns how many were pinned (at least one); -EFAULT when `vaddr` is not backed by
    /// pinnable memory.
    ///
    /// This goes through GUP's lockless fast path (`pin_user_pages_fast`), which walks the
    /// page tables once per batch instead of looking every page up under the mmap lock,
    /// and falls back to the slow path by itself where it must.
    pub(crate) fn pin_current(
        &mut self,
        vaddr: usize,
        npages: usize,
        write: bool,
    ) -> Result<usize> {
        self.release();
        // CAST: the batch capacity is small (`PinBatch::new` callers), far below `i32::MAX`.
        let count = npages.min(self.pages.capacity()).min(i32::MAX as usize) as c_int;
        let mut flags = bindings::FOLL_LONGTERM;
        if write {
            flags |= bindings::FOLL_WRITE;
        }
        let pages = self.pages.as_mut_ptr();
        // SAFETY: `pages` is empty with room for `count` entries from its start; the
        // function pins pages of the current task's address space and takes whatever locks
        // it needs itself.
        let pinned = unsafe { bindings::pin_user_pages_fast(vaddr, count, flags, pages) };
        // GUP's fast path refuses a range ending at the very top of the address space
        // (-EOVERFLOW) where upstream's `pin_user_pages_remote()` finds no memory: -EFAULT.
        if pinned == -(bindings::EOVERFLOW as c_int) {
            return Err(EFAULT);
        }
        if pinned < 0 {
            return Err(Error::from_errno(pinned));
        }
        if pinned == 0 {
            return Err(EFAULT);
        }
        // CAST: `0 < pinned <= count`.
        let pinned = pinned as usize;
        // SAFETY: GUP wrote exactly `pinned <= capacity` page pointers from the start.
        // INVARIANT: they are the pages it pinned for us.
        unsafe { self.pages.inc_len(pinned) };
        Ok(pinned)
    }

    /// Gives up the pins of the first `taken` pages, which their new owner now holds.
    fn forget_first(&mut self, taken: usize) {
        let len = self.pages.len();
        self.pages.copy_within(taken..len, 0);
        // INVARIANT: what is left are the pins not taken.
        self.pages.truncate(len - taken);
    }

    /// Unpins whatever the batch still owns.
    fn release(&mut self) {
        if !self.pages.is_empty() {
            // SAFETY: All elements are pinned pages we own (type invariant).
            unsafe { bindings::unpin_user_pages(self.pages.as_mut_ptr(), self.pages.len()) };
            // INVARIANT: the pins are gone.
            self.pages.clear();
        }
    }
}

impl Drop for PinBatch {
    fn drop(&mut self) {
        self.release();
    }
}

/// Whether `vaddr` of `mm` lies in a `VM_PFNMAP` mapping (a BAR mmap): a hint of where a
/// `MAP_DMA` starts, which the mapping may change at any time after.
pub(crate) fn in_pfnmap(mm: &MmWithUser, vaddr: usize) -> bool {
    // SAFETY: `mm` has users; the helper takes its mmap lock.
    unsafe { rvfio_in_pfnmap(mm.as_raw(), vaddr) }
}

/// Looks up the frames behind `vaddr` of `mm` when it lies in a `VM_PFNMAP` mapping of
/// device memory (another device's BAR mmap), faulting them in if needed. Such frames are
/// not pinned: they have no `struct page` to pin. Returns the run of at most `npages`
/// contiguous frames found; -EFAULT if `vaddr` is not in such a mapping.
pub(crate) fn follow_pfnmap(
    mm: &MmWithUser,
    vaddr: usize,
    npages: usize,
    write: bool,
) -> Result<PfnRun> {
    let _lock = mm.mmap_read_lock();
    loop {
        let mut pfn = 0;
        // SAFETY: `mm` has users and its mmap lock is held for reading, as the helper
        // requires; `pfn` is a valid out-pointer.
        let ret = unsafe { rvfio_follow_pfnmap(mm.as_raw(), vaddr, npages, write, &mut pfn) };
        if ret == -(bindings::EAGAIN as kernel::ffi::c_long) {
            // The fault dropped and retook the lock: look the VMA up again.
            continue;
        }
        if ret < 0 {
            // CAST: a negative errno fits in `i32`.
            return Err(Error::from_errno(ret as i32));
        }
        // CAST: `0 < ret <= npages`, and at most one leaf's frames (a PUD: 2^18 pages)
        // fit `u32`; frame numbers fit in 64 bits.
        return Ok(PfnRun::new(pfn as u64, ret as u32, false));
    }
}

/// The memory of one DMA mapping, as runs in IOVA order: pinned pages, and device memory
/// of PFN mappings.
///
/// # Invariants
///
/// Every page frame of every run in `runs` with `pinned` set is a `struct page` holding
/// one `FOLL_PIN` reference owned by this object.
pub(crate) struct PinnedRuns {
    runs: RunList,
    /// Mark the pages dirty when unpinning (the device could write them).
    dirty: bool,
    /// A device may still reach the pages ([`Self::leak`]): they are never unpinned.
    leaked: bool,
}

// SAFETY: Page pins are not tied to a thread.
unsafe impl Send for PinnedRuns {}
// SAFETY: `&self` methods only read the run list.
unsafe impl Sync for PinnedRuns {}

impl PinnedRuns {
    /// No pages yet; `dirty` marks the pages dirty at unpin.
    pub(crate) fn new(dirty: bool) -> Self {
        Self {
            runs: RunList::new(),
            dirty,
            leaked: false,
        }
    }

    /// Keeps the pages pinned for good: an IOMMU unmap of them came up short, so a device
    /// may still reach them, and unpinning would let them be freed and reused under its
    /// DMA. Dropping the object then gives up the pins without releasing them.
    pub(crate) fn leak(&mut self) {
        self.leaked = true;
    }

    /// The runs.
    pub(crate) fn runs(&self) -> &RunList {
        &self.runs
    }

    /// Takes over the pins of `batch`. A page that physically follows the last run extends
    /// it when `merge` is set (set it unless huge IOMMU pages are disabled); the last run
    /// may therefore still grow on the next call.
    ///
    /// On error (no memory for the run list) the batch keeps the pins not taken over yet.
    pub(crate) fn append(&mut self, batch: &mut PinBatch, merge: bool) -> Result {
        let mut taken = 0;
        let result = self.take_runs(batch, merge, &mut taken);
        // INVARIANT: the first `taken` pins moved into `runs`; the rest stay in the batch.
        batch.forget_first(taken);
        result
    }

    /// The loop of [`PinnedRuns::append`]: one step per physically contiguous run, counting
    /// in `taken` the pages whose pins `runs` owns.
    fn take_runs(&mut self, batch: &mut PinBatch, merge: bool, taken: &mut usize) -> Result {
        let pages = &mut batch.pages[..];
        while *taken < pages.len() {
            let rest = &mut pages[*taken..];
            let (first, len) = (rest.as_mut_ptr(), rest.len());
            let mut pfn = 0;
            // SAFETY: `rest` is a non-empty array of pinned, hence live, pages (`PinBatch`
            // invariant); `pfn` is a valid out-pointer.
            let contiguous = unsafe { rvfio_contiguous_pages(first, len, &mut pfn) };
            // Without merging, one run per page: the IOMMU then maps only 4 KiB pages.
            // CAST: at most the batch length, far below `u32::MAX`.
            let npages = if merge { contiguous as u32 } else { 1 };
            // CAST: page frame numbers fit in 64 bits.
            let run = PfnRun::new(pfn as u64, npages, true);
            self.runs.push(run, merge)?;
            // CAST: as above.
            *taken += npages as usize;
        }
        Ok(())
    }

    /// Appends a run of device memory (not pinned), merged with the previous one when it
    /// continues it and `merge` is set.
    pub(crate) fn append_unpinned(&mut self, run: PfnRun, merge: bool) -> Result {
        // INVARIANT: not pinned, so nothing to own.
        self.runs
            .push(PfnRun::new(run.pfn(), run.npages(), false), merge)
    }

    /// Gives back the run list's unused capacity, once the mapping is complete: a mapping
    /// lives long, and a million of them must stay small.
    pub(crate) fn compact(&mut self) {
        self.runs.compact();
    }
}

impl Drop for PinnedRuns {
    fn drop(&mut self) {
        if self.leaked {
            let pages: u64 = self
                .runs
                .iter()
                .filter(|run| run.pinned())
                .map(|run| u64::from(run.npages()))
                .sum();
            pr_err!("leaking {pages} pinned pages that an IOMMU may still map\n");
            return;
        }
        for run in self.runs.iter().filter(|run| run.pinned()) {
            // CAST: frame numbers and counts of pinned memory fit in `unsigned long`.
            // SAFETY: Each run is a range of pinned `struct page`s we own (type invariant),
            // released once, here; `pfn_to_page` is valid for those frames.
            unsafe {
                bindings::unpin_user_page_range_dirty_lock(
                    rvfio_pfn_to_page(run.pfn() as usize),
                    run.npages() as usize,
                    self.dirty,
                )
            };
        }
    }
}

/// Pages charged to an address space's `locked_vm`, checked against its `RLIMIT_MEMLOCK`
/// (unless the charging task has `CAP_IPC_LOCK`); uncharged by [`Drop`].
///
/// # Invariants
///
/// `pages` pages were charged to `mm` by this object and not yet uncharged.
pub(crate) struct LockedVm {
    mm: ARef<Mm>,
    pages: u64,
}

impl LockedVm {
    /// Nothing charged to `mm` yet.
    pub(crate) fn new(mm: ARef<Mm>) -> Self {
        Self { mm, pages: 0 }
    }

    /// Charges `pages` more pages; -ENOMEM over the limit.
    pub(crate) fn charge(&mut self, pages: u64) -> Result {
        let user = self.mm.mmget_not_zero().ok_or(ESRCH)?;
        // SAFETY: `user` keeps the address space alive; the callee takes its mmap lock.
        kernel::error::to_result(unsafe {
            bindings::account_locked_vm(user.as_raw(), pages as usize, true)
        })?;
        // INVARIANT: charged.
        self.pages += pages;
        Ok(())
    }

    /// Moves the charge to `mm`: charged there first, against its limit (-ENOMEM over it,
    /// and nothing moves), then uncharged here, if this address space still has users.
    pub(crate) fn move_to(&mut self, mm: ARef<Mm>) -> Result {
        if core::ptr::eq::<Mm>(&*self.mm, &*mm) {
            return Ok(());
        }
        let mut moved = LockedVm::new(mm);
        moved.charge(self.pages)?;
        // The old charge is uncharged as it drops.
        drop(core::mem::replace(self, moved));
        Ok(())
    }

    /// Takes over `other`'s charge when both are charged to the same address space, so
    /// that one uncharge (one `mmap_lock` round) covers both; otherwise hands `other` back.
    pub(crate) fn absorb(&mut self, mut other: LockedVm) -> core::result::Result<(), LockedVm> {
        if !core::ptr::eq::<Mm>(&*self.mm, &*other.mm) {
            return Err(other);
        }
        // INVARIANT: the charge moves from `other`, which then drops with none, to `self`.
        self.pages += other.pages;
        other.pages = 0;
        Ok(())
    }
}

/// The `locked_vm` charges of many released mappings, uncharged together: one
/// `account_locked_vm()` per run of mappings of the same address space instead of one each.
#[derive(Default)]
pub(crate) struct LockedVmBatch {
    pending: Option<LockedVm>,
}

impl LockedVmBatch {
    /// Adds `charge` to the batch; a charge of another address space first uncharges what
    /// the batch holds.
    pub(crate) fn add(&mut self, charge: LockedVm) {
        self.pending = Some(match self.pending.take() {
            None => charge,
            Some(mut pending) => match pending.absorb(charge) {
                Ok(()) => pending,
                Err(other) => {
                    drop(pending);
                    other
                }
            },
        });
    }
}

impl Drop for LockedVm {
    fn drop(&mut self) {
        if self.pages == 0 {
            return;
        }
        // An address space without users is being torn down: nothing left to uncharge.
        if let Some(user) = self.mm.mmget_not_zero() {
            // SAFETY: `user` keeps the address space alive; we uncharge what we charged.
            unsafe { bindings::account_locked_vm(user.as_raw(), self.pages as usize, false) };
        }
    }
}
