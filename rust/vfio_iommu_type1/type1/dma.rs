// SPDX-License-Identifier: GPL-2.0

//! One user DMA mapping (`VFIO_IOMMU_MAP_DMA`): pinning it, mapping it into every domain,
//! and undoing both.
//!
//! A [`Mapping`] keeps the pinned page-frame runs it was built from, so that it can be
//! replayed into a new domain and unmapped without asking the IOMMU where anything is.
//! Dropping a mapping unpins its pages and uncharges `locked_vm`; removing it from the
//! domains first is the caller's job ([`Mapping::unmap_from`]), because pages must not be
//! released while a device can still reach them. An IOMMU unmap of a mapping that comes up
//! short (which a working IOMMU driver never does) leaves its pages pinned for good.

use kernel::{
    mm::MmWithUser,
    prelude::*,
    sync::aref::ARef, //
};

use crate::ext::{
    gup::{
        follow_pfnmap,
        pin_checkpoint,
        LockedVm,
        PinBatch,
        PinnedRuns,
        PAGE_SHIFT,
        PAGE_SIZE, //
    },
    iommu_domain::{
        Domain,
        Prot, //
    },
};

/// Pages pinned per GUP call: enough to amortise the mmap lock and the `locked_vm`
/// accounting, with a page-pointer array of only two pages.
pub(crate) const PIN_BATCH_PAGES: usize = 1024;

/// A user DMA mapping: `[iova, iova + size)` to user memory at `vaddr`.
pub(crate) struct Mapping {
    /// First IOVA.
    pub(crate) iova: u64,
    /// Size in bytes, a multiple of the IOMMU's smallest page.
    pub(crate) size: u64,
    /// User address of the memory: `None` once an `UNMAP_DMA` with `VADDR` invalidated it
    /// (the pages stay pinned and mapped), until a `MAP_DMA` with `VADDR` gives the new one.
    pub(crate) vaddr: Option<u64>,
    /// Device access rights.
    pub(crate) prot: Prot,
    /// The pinned memory, in IOVA order.
    pinned: PinnedRuns,
    /// What the pins cost the mapping task's address space. Dropped after `pinned`.
    locked: LockedVm,
}

impl Mapping {
    /// Last IOVA (inclusive).
    pub(crate) fn last(&self) -> u64 {
        self.iova + (self.size - 1)
    }

    /// Pins `memory` and maps it at `iova` in every domain of `domains`. On any failure
    /// everything done so far is undone: nothing stays mapped, pinned or charged.
    pub(crate) fn create<'a>(
        domains: impl Iterator<Item = &'a Domain> + Clone,
        iova: u64,
        prot: Prot,
        memory: &UserMemory<'_>,
    ) -> Result<Self> {
        let mut mapping = Mapping {
            iova,
            size: 0,
            vaddr: Some(memory.start),
            prot,
            pinned: PinnedRuns::new(prot.writable()),
            locked: LockedVm::new(ARef::from(&**memory.mm)),
        };
        match mapping.pin_and_map(memory, domains.clone()) {
            Ok(()) => Ok(mapping),
            Err(e) => {
                // `mapping.size` covers exactly what reached the domains.
                mapping.unmap_from(domains);
                Err(e)
            }
        }
    }

    /// The body of [`Mapping::create`]: grows `self.size` as runs get mapped.
    fn pin_and_map<'a>(
        &mut self,
        memory: &UserMemory<'_>,
        domains: impl Iterator<Item = &'a Domain> + Clone,
    ) -> Result {
        let mut device_first = memory.device_first;
        // Allocated at the first pin: device memory needs none.
        let mut batch = None;
        let mut taken = 0u64;
        // Runs before this index are mapped; the last run may still grow, so it is mapped
        // only when the next one starts or pinning is over.
        let mut mapped_runs = 0;
        while taken < memory.total_pages {
            // A killed task's MAP_DMA stops here and unwinds, as upstream's does inside GUP.
            if taken > 0 {
                pin_checkpoint()?;
            }
            let (got, device) = self.take(memory, &mut batch, taken, device_first)?;
            // What one chunk was, the next likely is.
            device_first = device;
            taken += got;
            let complete = self.pinned.runs().len().saturating_sub(1);
            self.map_runs(domains.clone(), mapped_runs, complete)?;
            mapped_runs = complete;
        }
        let all = self.pinned.runs().len();
        self.map_runs(domains, mapped_runs, all)?;
        self.pinned.compact();
        Ok(())
    }

    /// Takes in the memory from page `taken` of the request on: pinned pages (a batch at
    /// most), or device memory of a PFN mapping (a BAR mmap), which is mapped as it is,
    /// neither pinned nor charged, as upstream's, a whole leaf (up to 1 GiB) at a time.
    /// Tries device memory first when `device_first`, pinning first otherwise; returns the
    /// pages taken and whether they were device memory. -EFAULT if the memory is neither.
    fn take(
        &mut self,
        memory: &UserMemory<'_>,
        batch: &mut Option<PinBatch>,
        taken: u64,
        device_first: bool,
    ) -> Result<(u64, bool)> {
        if device_first {
            match self.take_device_memory(memory, taken) {
                Err(e) if e == EFAULT => {}
                done => return done.map(|got| (got, true)),
            }
            return self
                .take_pinned(memory, batch, taken)
                .map(|got| (got, false));
        }
        match self.take_pinned(memory, batch, taken) {
            Err(e) if e == EFAULT => self
                .take_device_memory(memory, taken)
                .map(|got| (got, true)),
            done => done.map(|got| (got, false)),
        }
    }

    /// Pins and charges the next batch of pages; -EFAULT where they are not pinnable.
    fn take_pinned(
        &mut self,
        memory: &UserMemory<'_>,
        batch: &mut Option<PinBatch>,
        taken: u64,
    ) -> Result<u64> {
        let batch = match batch {
            Some(batch) => batch,
            // CAST: bounded by the batch size.
            None => batch.insert(PinBatch::new(
                memory.total_pages.min(PIN_BATCH_PAGES as u64) as usize,
            )?),
        };
        // CAST: bounded by the batch size; user addresses fit in `usize`.
        let want = (memory.total_pages - taken).min(PIN_BATCH_PAGES as u64) as usize;
        let vaddr = (memory.start + (taken << PAGE_SHIFT)) as usize;
        // `mm` is the calling task's (MAP_DMA runs in the mapping process): GUP's fast
        // path applies.
        let got = batch.pin_current(vaddr, want, self.prot.writable())?;
        // CAST: at most `want`.
        self.locked.charge(got as u64)?;
        self.pinned.append(batch, memory.merge_runs)?;
        Ok(got as u64)
    }

    /// Takes in the frames of device memory from the next page on, up to the end of their
    /// leaf; -EFAULT where the memory is not in a PFN mapping.
    fn take_device_memory(&mut self, memory: &UserMemory<'_>, taken: u64) -> Result<u64> {
        // CAST: bounded to `u32` (a run's length), which fits `usize`.
        let left = (memory.total_pages - taken).min(u64::from(u32::MAX)) as usize;
        // CAST: user addresses fit in `usize`.
        let vaddr = (memory.start + (taken << PAGE_SHIFT)) as usize;
        let run = follow_pfnmap(memory.mm, vaddr, left, self.prot.writable())?;
        let got = u64::from(run.npages());
        self.pinned.append_unpinned(run, memory.merge_runs)?;
        Ok(got)
    }

    /// Maps runs `from..to` right after what is mapped already, in every domain.
    fn map_runs<'a>(
        &mut self,
        domains: impl Iterator<Item = &'a Domain> + Clone,
        from: usize,
        to: usize,
    ) -> Result {
        for index in from..to {
            let run = self.pinned.runs().get(index).ok_or(EINVAL)?;
            let iova = self.iova + self.size;
            let bytes = run.bytes();
            let mut failed = None;
            for (done, domain) in domains.clone().enumerate() {
                if let Err(e) = domain.map(iova, run, self.prot) {
                    failed = Some((done, e));
                    break;
                }
            }
            if let Some((done, e)) = failed {
                // The domains before this one have the run: take it back out.
                for domain in domains.take(done) {
                    // CAST: a run is at most the mapping size, which fits in `usize`.
                    if domain.unmap(iova, bytes as usize).is_err() {
                        self.leak();
                    }
                }
                return Err(e);
            }
            self.size += bytes;
        }
        Ok(())
    }

    /// Maps the whole mapping into `domain`, a domain added after it was created. On
    /// failure, nothing of it stays in `domain` (or its pages are leaked).
    pub(crate) fn replay_into(&mut self, domain: &Domain) -> Result {
        let mut iova = self.iova;
        let mut failed = None;
        for run in self.pinned.runs().iter() {
            if let Err(e) = domain.map(iova, run, self.prot) {
                failed = Some(e);
                break;
            }
            iova += run.bytes();
        }
        let Some(e) = failed else {
            return Ok(());
        };
        // CAST: as in `map_runs`.
        let mapped = (iova - self.iova) as usize;
        if mapped > 0 && domain.unmap(self.iova, mapped).is_err() {
            self.leak();
        }
        Err(e)
    }

    /// `MAP_DMA` with `VADDR`: the memory is at `vaddr` of `mm`, the calling process's
    /// address space, which the `locked_vm` charge moves to (-ENOMEM over its limit, and
    /// nothing changes), as upstream's `vfio_change_dma_owner()`.
    pub(crate) fn update_vaddr(&mut self, vaddr: u64, mm: &MmWithUser) -> Result {
        self.locked.move_to(ARef::from(&**mm))?;
        self.vaddr = Some(vaddr);
        Ok(())
    }

    /// Keeps the mapping's pages pinned for good, as an IOMMU may still map them.
    fn leak(&mut self) {
        self.pinned.leak();
    }

    /// Unpins the mapping's pages, which no domain may map any more, and hands back its
    /// `locked_vm` charge, for the caller to uncharge (with others, in a [`LockedVmBatch`](crate::ext::gup::LockedVmBatch)).
    pub(crate) fn release(self) -> LockedVm {
        let Mapping { pinned, locked, .. } = self;
        drop(pinned);
        locked
    }

    /// Removes the mapping from `domains` (the IOTLB is flushed on return). Where that
    /// comes up short, its pages are leaked.
    pub(crate) fn unmap_from<'a>(&mut self, domains: impl Iterator<Item = &'a Domain>) {
        if self.size == 0 {
            return;
        }
        for domain in domains {
            // CAST: as in `map_runs`.
            if domain.unmap(self.iova, self.size as usize).is_err() {
                self.leak();
            }
        }
    }

    /// [`Self::release`] for a mapping that an unmap of the IOMMU may have left mapped:
    /// its pages stay pinned for good.
    pub(crate) fn release_leaked(mut self) -> LockedVm {
        self.leak();
        self.release()
    }
}

/// The user memory a [`Mapping`] is made of: `total_pages` pages of `mm`, the calling task's
/// address space, from user address `start`.
pub(crate) struct UserMemory<'a> {
    pub(crate) mm: &'a MmWithUser,
    pub(crate) start: u64,
    pub(crate) total_pages: u64,
    /// Physically contiguous pages become one run (not `disable_hugepages`).
    pub(crate) merge_runs: bool,
    /// A hint that `start` is in device memory (a BAR mmap): looked up as such first.
    pub(crate) device_first: bool,
}

/// Size of the smallest page in `pgsize_bitmap` (the CPU page if the bitmap is empty).
pub(crate) fn min_page_size(pgsize_bitmap: u64) -> u64 {
    if pgsize_bitmap == 0 {
        PAGE_SIZE
    } else {
        1 << pgsize_bitmap.trailing_zeros()
    }
}
