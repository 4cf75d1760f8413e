// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers over the domain side of the kernel IOMMU API (`include/linux/iommu.h`),
//! what an IOMMU backend needs: paging domains, attaching groups to them, mapping and
//! unmapping, and the group properties that decide whether and where a group may map.

use core::ptr::NonNull;
use kernel::{
    bindings,
    device::Device,
    error::{
        from_err_ptr,
        to_result,
        Result, //
    },
    prelude::*,
    sync::{
        aref::ARef,
        Arc, //
    },
};

use super::{
    iommu_group::IommuGroup,
    run_list::PfnRun, //
};

/// What a backend asks of a group before it maps for it.
impl IommuGroup {
    /// Whether MSIs from the group's devices are isolated (interrupt remapping), so that a
    /// device cannot forge another device's interrupts by DMA.
    pub(crate) fn has_isolated_msi(&self) -> bool {
        // SAFETY: `self` is a live group (type invariant).
        unsafe { bindings::iommu_group_has_isolated_msi(self.as_raw()) }
    }

    /// The IOVA ranges the IOMMU reserves for the group (MSI windows, RMRRs...), which user
    /// DMA mappings must avoid. Relaxable direct mappings are left out, as upstream does.
    pub(crate) fn reserved_regions(&self) -> Result<KVec<IovaRange>> {
        let mut head = bindings::list_head {
            next: core::ptr::null_mut(),
            prev: core::ptr::null_mut(),
        };
        let head_ptr: *mut bindings::list_head = &mut head;
        // SAFETY: `head_ptr` points to our list head, which is not moved while in use.
        unsafe { bindings::INIT_LIST_HEAD(head_ptr) };
        // SAFETY: `self` is live; `head_ptr` is an initialised empty list that outlives the
        // call. On return the list holds entries `kmalloc`ed for us (on error, none).
        let ret = unsafe { bindings::iommu_get_group_resv_regions(self.as_raw(), head_ptr) };
        let mut regions = KVec::new();
        let mut failed = to_result(ret).err();
        // SAFETY: Reading the list head we own.
        let mut pos = unsafe { (*head_ptr).next };
        while pos != head_ptr {
            // CAST: `list` is the first field of `struct iommu_resv_region`, so the entry
            // starts where its list node does.
            let region = pos.cast::<bindings::iommu_resv_region>();
            // SAFETY: `pos` is a live entry of our private list; read its fields and link
            // before freeing it, as upstream's `vfio_iommu_resv_free()` does with `kfree`.
            let (start, length, kind, next) = unsafe {
                (
                    (*region).start,
                    (*region).length,
                    (*region).type_,
                    (*pos).next,
                )
            };
            // SAFETY: The entry was allocated with `kmalloc` by the IOMMU core, unlinked by
            // our walk and is not used again.
            unsafe { bindings::kfree(region.cast()) };
            pos = next;
            if kind == bindings::iommu_resv_type_IOMMU_RESV_DIRECT_RELAXABLE || length == 0 {
                continue;
            }
            if failed.is_none() {
                // CAST: `usize` fits in `u64` on every supported architecture.
                let end = start.saturating_add(length as u64 - 1);
                if let Err(e) = regions.push(IovaRange { start, end }, GFP_KERNEL) {
                    failed = Some(e.into());
                }
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(regions),
        }
    }
}

/// An inclusive range of I/O virtual addresses, `[start, end]`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct IovaRange {
    /// First address.
    pub(crate) start: u64,
    /// Last address (inclusive, so that a range can end at `u64::MAX`).
    pub(crate) end: u64,
}

/// Access rights of an IOMMU mapping, from the device's point of view.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prot(u32);

impl Prot {
    /// Device may read.
    pub(crate) const READ: Prot = Prot(bindings::IOMMU_READ);
    /// Device may write.
    pub(crate) const WRITE: Prot = Prot(bindings::IOMMU_WRITE);
    /// No access.
    pub(crate) const NONE: Prot = Prot(0);

    /// Both sets of rights.
    pub(crate) const fn union(self, other: Prot) -> Prot {
        Prot(self.0 | other.0)
    }

    /// Whether the device may write.
    pub(crate) const fn writable(self) -> bool {
        self.0 & bindings::IOMMU_WRITE != 0
    }
}

/// A paging IOMMU domain (`struct iommu_domain`): one I/O page table, attachable to groups.
///
/// # Invariants
///
/// `ptr` is a domain from `iommu_paging_domain_alloc_flags()`, owned by this object and freed
/// only by [`Drop`]. Groups attached to it hold an `Arc<Domain>` ([`DomainAttachment`]), so it
/// is never freed while attached.
pub(crate) struct Domain {
    ptr: NonNull<bindings::iommu_domain>,
}

// SAFETY: IOMMU domains may be used and freed from any thread; map and unmap of disjoint
// ranges may run concurrently (the IOMMU drivers lock their page tables).
unsafe impl Send for Domain {}
// SAFETY: See above: every `&self` method is thread-safe in the IOMMU core.
unsafe impl Sync for Domain {}

impl Domain {
    /// Allocates a paging domain suited to `dev`'s IOMMU.
    pub(crate) fn new_paging(dev: &Device) -> Result<Arc<Domain>> {
        // SAFETY: `dev` is a live device for the duration of the call.
        let ptr = from_err_ptr(unsafe {
            bindings::iommu_paging_domain_alloc_flags(super::raw::device_ptr(dev), 0)
        })?;
        // INVARIANT: a fresh domain, owned by the new object.
        Ok(Arc::new(
            Domain {
                ptr: NonNull::new(ptr).ok_or(ENOMEM)?,
            },
            GFP_KERNEL,
        )?)
    }

    /// The domain's fields, which the IOMMU core fills in at allocation and never changes.
    fn raw(&self) -> &bindings::iommu_domain {
        // SAFETY: `ptr` is live (type invariant); the fields read through this reference are
        // written only during allocation.
        unsafe { self.ptr.as_ref() }
    }

    /// The IOMMU page sizes the domain supports, as a bitmap of sizes.
    pub(crate) fn pgsize_bitmap(&self) -> u64 {
        // CAST: `unsigned long` is 64 bits on every architecture rvfio builds for.
        self.raw().pgsize_bitmap as u64
    }

    /// The IOVA aperture of the domain.
    pub(crate) fn aperture(&self) -> IovaRange {
        let geometry = &self.raw().geometry;
        IovaRange {
            start: geometry.aperture_start,
            end: geometry.aperture_end,
        }
    }

    /// Whether the domain is of the same kind (same IOMMU driver operations) as `other`, the
    /// first condition for groups to share one domain.
    pub(crate) fn same_driver(&self, other: &Domain) -> bool {
        core::ptr::eq(self.raw().ops, other.raw().ops)
    }

    /// Asks the IOMMU to block non-coherent (no-snoop) DMA in this domain, and reports
    /// whether it does. Must be called once a group is attached and before any mapping.
    pub(crate) fn enforce_cache_coherency(&self) -> bool {
        let ops = self.raw().ops;
        // SAFETY: `ops` is the driver's static operations table of a live domain.
        let enforce = unsafe { ops.as_ref() }.and_then(|ops| ops.enforce_cache_coherency);
        match enforce {
            // SAFETY: The domain is live and attached, which the callback requires.
            Some(enforce) => unsafe { enforce(self.ptr.as_ptr()) },
            None => false,
        }
    }

    /// Maps `run` at `iova` with rights `prot`, using the largest page sizes alignment
    /// allows.
    ///
    /// Only a [`PfnRun`] can be mapped, never a bare physical address: runs come from pages
    /// `kernel_ext` pinned or from a user's PFN mapping of device memory, so no caller can
    /// point the device at memory nobody holds. Keeping the pins until the run is unmapped
    /// is the owner's part ([`Self::unmap`]: a short unmap keeps them for good).
    pub(crate) fn map(&self, iova: u64, run: &PfnRun, prot: Prot) -> Result {
        // CAST: IOMMU protection flags are small bit masks that fit in `int`; IOVAs are
        // `unsigned long`, 64 bits wide on every architecture rvfio builds for; a run is at
        // most `u32::MAX` pages, which fits in `size_t` there.
        let prot = (prot.0 | bindings::IOMMU_CACHE) as i32;
        // SAFETY: The domain is live; `run` is pinned memory or a user's device memory
        // (`PfnRun` invariant), held by its owner while mapped.
        to_result(unsafe {
            bindings::iommu_map(
                self.ptr.as_ptr(),
                iova as usize,
                run.phys(),
                run.bytes() as usize,
                prot,
                bindings::GFP_KERNEL_ACCOUNT,
            )
        })
    }

    /// Unmaps `[iova, iova + size)`, all of which the caller mapped, and flushes the
    /// IOTLB. A short unmap is an error: the IOMMU may still map the rest, so the caller
    /// must not release the memory behind it.
    pub(crate) fn unmap(&self, iova: u64, size: usize) -> Result<(), ShortUnmap> {
        // SAFETY: The domain is live; unmapping a range the caller mapped.
        let unmapped = unsafe { rvfio_iommu_unmap(self.ptr.as_ptr(), iova as usize, size) };
        if unmapped == size {
            return Ok(());
        }
        pr_err!("IOMMU unmap of {size:#x} bytes at IOVA {iova:#x} removed {unmapped:#x}\n");
        Err(ShortUnmap)
    }

    /// Attaches `group` to the domain; dropping the result detaches it.
    pub(crate) fn attach_group(
        this: &Arc<Domain>,
        group: &ARef<IommuGroup>,
    ) -> Result<DomainAttachment> {
        // SAFETY: Both objects are live; the caller holds DMA ownership of the group (the
        // IOMMU core checks it and fails otherwise).
        to_result(unsafe { bindings::iommu_attach_group(this.ptr.as_ptr(), group.as_raw()) })?;
        // INVARIANT: attached, detached only by the drop.
        Ok(DomainAttachment {
            domain: this.clone(),
            group: group.clone(),
        })
    }
}

/// An IOMMU unmap that removed less than asked ([`Domain::unmap`]).
#[derive(Debug)]
pub(crate) struct ShortUnmap;

impl Drop for Domain {
    fn drop(&mut self) {
        // SAFETY: The domain is owned and no group is attached (type invariant).
        unsafe { bindings::iommu_domain_free(self.ptr.as_ptr()) };
    }
}

/// A group attached to a [`Domain`]; dropping it detaches the group.
///
/// # Invariants
///
/// `iommu_attach_group(domain, group)` succeeded and has not been undone.
pub(crate) struct DomainAttachment {
    domain: Arc<Domain>,
    group: ARef<IommuGroup>,
}

impl DomainAttachment {
    /// The attached group.
    pub(crate) fn group(&self) -> &ARef<IommuGroup> {
        &self.group
    }
}

impl Drop for DomainAttachment {
    fn drop(&mut self) {
        // SAFETY: Attached (type invariant), detached once, here.
        unsafe { bindings::iommu_detach_group(self.domain.ptr.as_ptr(), self.group.as_raw()) };
    }
}

// `struct iommu_domain` has a zero-sized member that trips the lint; only pointers cross here.
#[allow(improper_ctypes)]
extern "C" {
    /// `iommu_unmap()`, open to fault injection (`rust/kernel_ext/iommu/iommu_inject.c`).
    fn rvfio_iommu_unmap(domain: *mut bindings::iommu_domain, iova: usize, size: usize) -> usize;
}
