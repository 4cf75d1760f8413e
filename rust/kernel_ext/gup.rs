// SPDX-License-Identifier: GPL-2.0

//! Pinning user memory for device DMA, and charging it to `RLIMIT_MEMLOCK`.
//!
//! 7.3's Rust has no GUP abstraction. Pages are pinned with
//! `pin_user_pages_remote(FOLL_LONGTERM)` in batches ([`PinBatch`]), then handed over to
//! [`PinnedRuns`], which records them as runs of physically contiguous page frames: the
//! unit the IOMMU maps, and all that unpinning needs later (no page-table walk, no IOMMU
//! lookup). Every pin is owned by exactly one of the two and released by its `Drop`.

use core::ptr::NonNull;
use kernel::{
    alloc::KVVec,
    bindings,
    mm::{
        Mm,
        MmWithUser, //
    },
    prelude::*,
    sync::aref::ARef, //
};

// `struct page` has a zero-sized member that trips the lint; only pointers cross here.
#[allow(improper_ctypes)]
extern "C" {
    /// `page_to_pfn()`, from `rust/vfio/mm_helpers.c`.
    fn rvfio_page_to_pfn(page: *mut bindings::page) -> kernel::ffi::c_ulong;
    /// `pfn_to_page()`, from `rust/vfio/mm_helpers.c`.
    fn rvfio_pfn_to_page(pfn: kernel::ffi::c_ulong) -> *mut bindings::page;
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

/// log2 of the CPU page size.
pub(crate) const PAGE_SHIFT: u32 = bindings::PAGE_SHIFT;
/// The CPU page size.
pub(crate) const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;

/// Pages pinned by one call of [`PinBatch::pin`], not yet handed to [`PinnedRuns`].
///
/// # Invariants
///
/// `pages[..len]` are pages each holding one `FOLL_PIN` reference owned by this batch.
pub(crate) struct PinBatch {
    pages: KVec<*mut bindings::page>,
    len: usize,
}

// SAFETY: Page pins are not tied to a thread.
unsafe impl Send for PinBatch {}

impl PinBatch {
    /// A batch able to pin up to `capacity` pages at a time.
    pub(crate) fn new(capacity: usize) -> Result<Self> {
        Ok(Self {
            pages: KVec::from_elem(core::ptr::null_mut(), capacity, GFP_KERNEL)?,
            len: 0,
        })
    }

    /// Pins up to the batch capacity (and at most `npages`) pages of `mm` from user address
    /// `vaddr`, for device writes too when `write`. Returns how many were pinned (at least
    /// one); -EFAULT when `vaddr` is not backed by pinnable memory.
    pub(crate) fn pin(
        &mut self,
        mm: &MmWithUser,
        vaddr: usize,
        npages: usize,
        write: bool,
    ) -> Result<usize> {
        self.release();
        let count = npages.min(self.pages.len());
        let mut flags = bindings::FOLL_LONGTERM;
        if write {
            flags |= bindings::FOLL_WRITE;
        }
        let pinned = {
            let _lock = mm.mmap_read_lock();
            // SAFETY: `mm` has users and its mmap lock is held for reading; `pages` has room
            // for `count` entries; `locked` is NULL so the lock is never dropped inside.
            unsafe {
                bindings::pin_user_pages_remote(
                    mm.as_raw(),
                    vaddr,
                    count,
                    flags,
                    self.pages.as_mut_ptr(),
                    core::ptr::null_mut(),
                )
            }
        };
        if pinned < 0 {
            // CAST: a negative errno fits in `i32`.
            return Err(Error::from_errno(pinned as i32));
        }
        if pinned == 0 {
            return Err(EFAULT);
        }
        // INVARIANT: GUP pinned exactly `pinned` pages into the first entries.
        // CAST: `0 < pinned <= count`.
        self.len = pinned as usize;
        Ok(self.len)
    }

    /// Unpins whatever the batch still owns.
    fn release(&mut self) {
        if self.len > 0 {
            // SAFETY: The first `len` entries are pinned pages we own (type invariant).
            unsafe { bindings::unpin_user_pages(self.pages.as_mut_ptr(), self.len) };
            // INVARIANT: the pins are gone.
            self.len = 0;
        }
    }
}

impl Drop for PinBatch {
    fn drop(&mut self) {
        self.release();
    }
}

/// A run of physically contiguous page frames.
#[derive(Clone, Copy)]
pub(crate) struct PfnRun {
    /// First page frame.
    pub(crate) pfn: u64,
    /// Number of frames.
    pub(crate) npages: u64,
    /// Pinned `struct page`s (RAM), as opposed to device memory of a PFN mapping.
    pub(crate) pinned: bool,
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
        // CAST: `0 < ret <= npages`, and frame numbers fit in 64 bits.
        return Ok(PfnRun {
            pfn: pfn as u64,
            npages: ret as u64,
            pinned: false,
        });
    }
}

impl PfnRun {
    /// Physical address of the run.
    pub(crate) fn phys(&self) -> u64 {
        self.pfn << PAGE_SHIFT
    }

    /// Size of the run in bytes.
    pub(crate) fn bytes(&self) -> u64 {
        self.npages << PAGE_SHIFT
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
    runs: KVVec<PfnRun>,
    /// Mark the pages dirty when unpinning (the device could write them).
    dirty: bool,
}

// SAFETY: Page pins are not tied to a thread.
unsafe impl Send for PinnedRuns {}
// SAFETY: `&self` methods only read the run list.
unsafe impl Sync for PinnedRuns {}

impl PinnedRuns {
    /// No pages yet; `dirty` marks the pages dirty at unpin.
    pub(crate) fn new(dirty: bool) -> Self {
        Self {
            runs: KVVec::new(),
            dirty,
        }
    }

    /// The runs, in order.
    pub(crate) fn runs(&self) -> &[PfnRun] {
        &self.runs
    }

    /// Takes over the pins of `batch`. A page that physically follows the last run extends
    /// it when `merge` is set (set it unless huge IOMMU pages are disabled); the last run
    /// may therefore still grow on the next call.
    pub(crate) fn append(&mut self, batch: &mut PinBatch, merge: bool) -> Result {
        self.runs.reserve(batch.len, GFP_KERNEL)?;
        for &page in &batch.pages[..batch.len] {
            // SAFETY: `page` is a pinned, hence live, page.
            // CAST: page frame numbers fit in 64 bits.
            let pfn = unsafe { rvfio_page_to_pfn(page) } as u64;
            match self.runs.last_mut() {
                Some(last) if merge && last.pinned && last.pfn + last.npages == pfn => {
                    last.npages += 1
                }
                _ => {
                    let run = PfnRun {
                        pfn,
                        npages: 1,
                        pinned: true,
                    };
                    // Room was reserved above, so this cannot fail.
                    self.runs.push(run, GFP_KERNEL)?;
                }
            }
        }
        // INVARIANT: the pins moved from the batch into `runs`.
        batch.len = 0;
        Ok(())
    }
}

impl PinnedRuns {
    /// Appends a run of device memory (not pinned), merged with the previous one when it
    /// continues it and `merge` is set.
    pub(crate) fn append_unpinned(&mut self, run: PfnRun, merge: bool) -> Result {
        match self.runs.last_mut() {
            Some(last) if merge && !last.pinned && last.pfn + last.npages == run.pfn => {
                last.npages += run.npages;
                Ok(())
            }
            // INVARIANT: not pinned, so nothing to own.
            _ => Ok(self.runs.push(
                PfnRun {
                    pinned: false,
                    ..run
                },
                GFP_KERNEL,
            )?),
        }
    }
}

impl Drop for PinnedRuns {
    fn drop(&mut self) {
        for run in self.runs.iter().filter(|run| run.pinned) {
            // CAST: frame numbers and counts of pinned memory fit in `unsigned long`.
            // SAFETY: Each run is a range of pinned `struct page`s we own (type invariant),
            // released once, here; `pfn_to_page` is valid for those frames.
            unsafe {
                bindings::unpin_user_page_range_dirty_lock(
                    rvfio_pfn_to_page(run.pfn as usize),
                    run.npages as usize,
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
