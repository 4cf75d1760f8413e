// SPDX-License-Identifier: GPL-2.0

//! The page-frame runs of a DMA mapping, stored compactly.
//!
//! A mapping of scattered 4 KiB pages has one run per page, hundreds of thousands for a
//! large one; a mapping of huge pages, or a small one, has a handful. [`RunList`] keeps the
//! first run inline and the others in fixed-size chunks, so that a one-run mapping needs no
//! allocation at all, appending never moves what is stored (a single growing vector would
//! be copied at every doubling) and a finished list wastes at most the tail of its last
//! chunk.
//! No `unsafe` here: this is plain bookkeeping for [`super::gup::PinnedRuns`].

use kernel::{
    alloc::KVVec,
    prelude::*, //
};

use super::gup::PAGE_SHIFT;

/// A run of physically contiguous page frames: 16 bytes.
///
/// The only memory an IOMMU mapping can be made of ([`super::iommu::Domain::map`]): runs are
/// minted by `kernel_ext` alone, from pages it pinned ([`super::gup::PinnedRuns`]) or from the
/// frames of a user's `VM_PFNMAP` mapping ([`super::gup::follow_pfnmap`]), and are neither
/// `Copy` nor `Clone`, so a `&PfnRun` borrows the list that owns the pins.
///
/// # Invariants
///
/// When `pinned` is set, the frames are `struct page`s pinned by the owner of the list the
/// run is in; otherwise they are device memory a user mapped.
pub(crate) struct PfnRun {
    /// First page frame.
    pfn: u64,
    /// Number of frames (runs longer than `u32::MAX` pages are split).
    npages: u32,
    /// Pinned `struct page`s (RAM), as opposed to device memory of a PFN mapping.
    pinned: bool,
}

impl PfnRun {
    /// A run of `npages` frames from `pfn`; for `gup.rs`, which pins or looks them up.
    pub(in crate::ext) fn new(pfn: u64, npages: u32, pinned: bool) -> Self {
        // INVARIANT: the caller (in `kernel_ext`) pinned the frames, or found them in a
        // user's PFN mapping.
        Self {
            pfn,
            npages,
            pinned,
        }
    }

    /// First page frame.
    pub(in crate::ext) fn pfn(&self) -> u64 {
        self.pfn
    }

    /// Number of frames.
    pub(crate) fn npages(&self) -> u32 {
        self.npages
    }

    /// Whether the frames are pinned pages.
    pub(in crate::ext) fn pinned(&self) -> bool {
        self.pinned
    }

    /// Physical address of the run.
    pub(crate) fn phys(&self) -> u64 {
        self.pfn << PAGE_SHIFT
    }

    /// Size of the run in bytes.
    pub(crate) fn bytes(&self) -> u64 {
        u64::from(self.npages) << PAGE_SHIFT
    }

    /// Whether `next` continues this run physically, of the same kind, and fits in it.
    fn continued_by(&self, next: &PfnRun) -> bool {
        self.pinned == next.pinned
            && self.pfn + u64::from(self.npages) == next.pfn
            && self.npages.checked_add(next.npages).is_some()
    }
}

/// Runs per chunk: one 4 KiB allocation.
const CHUNK_RUNS: usize = 256;

/// Runs in order: the first inline (most mappings are one run: a small buffer or a huge
/// page), the others in chunks of [`CHUNK_RUNS`], every chunk but the last full.
pub(crate) struct RunList {
    first: Option<PfnRun>,
    rest: KVVec<KVVec<PfnRun>>,
}

impl RunList {
    /// An empty list (allocates nothing).
    pub(crate) const fn new() -> Self {
        Self {
            first: None,
            rest: KVVec::new(),
        }
    }

    /// The number of runs.
    pub(crate) fn len(&self) -> usize {
        let rest = match self.rest.last() {
            Some(last) => (self.rest.len() - 1) * CHUNK_RUNS + last.len(),
            None => 0,
        };
        usize::from(self.first.is_some()) + rest
    }

    /// Run `index`, if there is one.
    pub(crate) fn get(&self, index: usize) -> Option<&PfnRun> {
        match index.checked_sub(1) {
            None => self.first.as_ref(),
            Some(i) => self.rest.get(i / CHUNK_RUNS)?.get(i % CHUNK_RUNS),
        }
    }

    /// The runs in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &PfnRun> {
        let rest = self.rest.iter().flat_map(|chunk| chunk.iter());
        Iterator::chain(self.first.iter(), rest)
    }

    /// The last run.
    fn last_mut(&mut self) -> Option<&mut PfnRun> {
        match self.rest.last_mut() {
            Some(chunk) => chunk.last_mut(),
            None => self.first.as_mut(),
        }
    }

    /// Appends `run`, or extends the last run with it when `merge` is set and it continues
    /// the last run physically.
    pub(crate) fn push(&mut self, run: PfnRun, merge: bool) -> Result {
        if let Some(last) = self.last_mut() {
            if merge && last.continued_by(&run) {
                last.npages += run.npages;
                return Ok(());
            }
        }
        if self.first.is_none() {
            self.first = Some(run);
            return Ok(());
        }
        match self.rest.last_mut() {
            // A chunk grows by doubling up to its fixed size: small lists stay small.
            Some(chunk) if chunk.len() < CHUNK_RUNS => Ok(chunk.push(run, GFP_KERNEL)?),
            _ => {
                // Grow the chunk table before allocating the chunk, so that a failure leaves
                // nothing half-added.
                self.rest.reserve(1, GFP_KERNEL)?;
                let capacity = if self.rest.is_empty() { 1 } else { CHUNK_RUNS };
                let mut chunk = KVVec::with_capacity(capacity, GFP_KERNEL)?;
                chunk.push(run, GFP_KERNEL)?;
                Ok(self.rest.push(chunk, GFP_KERNEL)?)
            }
        }
    }

    /// Gives back unused capacity once the list is complete.
    pub(crate) fn compact(&mut self) {
        // Shrinking is only an optimisation; keeping the larger buffers is correct.
        if let Some(last) = self.rest.last_mut() {
            let _ = last.shrink_to(0, GFP_KERNEL);
        }
        let _ = self.rest.shrink_to(0, GFP_KERNEL);
    }
}
