// SPDX-License-Identifier: GPL-2.0

//! The type1 IOMMU backend of a container (`VFIO_TYPE1_IOMMU` / `VFIO_TYPE1v2_IOMMU`).
//!
//! Groups are attached to kernel IOMMU domains, one domain shared by every group whose
//! IOMMU allows it. User mappings are pinned once and mapped into every domain; their
//! records live in an rbtree keyed by IOVA, so lookups, overlap checks and unmaps are
//! O(log n) and never ask the IOMMU what it maps. Semantics and errnos are those of
//! upstream's `drivers/vfio/vfio_iommu_type1.c`, including its v1/v2 unmap rules.
//!
//! Unlike upstream, the backend lock is not held across a long pin: a `MAP_DMA` larger
//! than one pinning batch reserves its IOVA range and mapping slot under the lock, pins
//! and maps without it, and takes the lock again to publish the mapping (see
//! [`Type1::map_unlocked`]). Other maps, unmaps and queries of the container go on
//! meanwhile; the range stays reserved against overlaps and attaches until then.

use kernel::{
    device::Device,
    mm::MmWithUser,
    new_mutex,
    prelude::*,
    rbtree::{
        RBTree,
        RBTreeNodeReservation, //
    },
    sync::{
        aref::ARef,
        lock::{
            mutex::MutexBackend,
            Guard, //
        },
        Arc,
        Mutex, //
    },
    transmute::AsBytes,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

mod dirty;
mod dma;
mod iova;

use crate::{
    args::read_args,
    ext::gup::{
        current_mm,
        in_pfnmap,
        LockedVmBatch,
        PAGE_SHIFT,
        PAGE_SIZE, //
    },
    ext::iommu_abi::IommuBackend,
    ext::iommu_domain::{
        Domain,
        DomainAttachment,
        IovaRange,
        Prot,
        ShortUnmap, //
    },
    ext::iommu_driver::IommuDriver,
    ext::iommu_group::IommuGroup,
    ext::type1_params,
    info_caps::{
        write_info,
        InfoCaps,
        InfoReply, //
    },
    uapi,
};
use dirty::{
    UserBitmap,
    DIRTY_BITMAP_SIZE_MAX, //
};
use dma::{
    min_page_size,
    Mapping,
    UserMemory, //
};
use iova::IovaRanges;

/// `PAGE_MASK` as a page-size bitmap: every power of two from the CPU page up.
const PAGE_MASK: u64 = !(PAGE_SIZE - 1);

/// A type1 backend, created by `VFIO_SET_IOMMU` and dropped with the container's last group.
#[pin_data]
pub(crate) struct Type1 {
    /// `VFIO_TYPE1v2_IOMMU` semantics (unmaps may not split a mapping).
    v2: bool,
    #[pin]
    inner: Mutex<Type1Inner>,
}

/// The mutable state of a [`Type1`].
///
/// Field order is drop order: groups leave their domains before mapped pages are unpinned.
struct Type1Inner {
    domains: KVec<DomainEntry>,
    mappings: RBTree<u64, Mapping>,
    /// Mappings that may still be created (`dma_entry_limit` minus those in use).
    dma_avail: u32,
    /// Page sizes common to all domains, as upstream reports them.
    pgsize_bitmap: u64,
    /// Where mappings may go.
    valid: IovaRanges,
    /// IOVA ranges of `MAP_DMA` calls pinning without the lock, not yet in `mappings`.
    /// Reserved: new maps may not overlap them and groups may not attach in their way.
    /// Unmaps do not see them (the user's map has not completed yet).
    in_flight: KVec<IovaRange>,
    /// `VFIO_IOMMU_DIRTY_PAGES` tracking has been started (and not stopped).
    dirty_tracking: bool,
}

/// A domain and the groups attached to it.
struct DomainEntry {
    /// Dropped first: detaching before the domain can go.
    groups: KVec<AttachedGroup>,
    domain: Arc<Domain>,
    /// The domain blocks no-snoop DMA (`VFIO_DMA_CC_IOMMU`).
    coherent: bool,
}

/// A group in a domain, with the IOVA ranges it reserves.
struct AttachedGroup {
    attachment: DomainAttachment,
    reserved: KVec<IovaRange>,
}

/// Type1 as the driver `VFIO_SET_IOMMU` opens a backend of.
impl IommuDriver for Type1 {
    type Backend = Type1;

    /// `VFIO_CHECK_EXTENSION` before an IOMMU is set: what type1 offers in general.
    fn offers(extension: usize) -> bool {
        [
            uapi::VFIO_TYPE1_IOMMU,
            uapi::VFIO_TYPE1v2_IOMMU,
            uapi::VFIO_UNMAP_ALL,
        ]
        .iter()
        .any(|&e| e as usize == extension)
    }

    /// A backend of type `iommu_type`, without groups: -EINVAL unless it is a type1
    /// flavour.
    fn open(iommu_type: usize) -> Result<Arc<Self>> {
        let v2 = match iommu_type {
            t if t == uapi::VFIO_TYPE1_IOMMU as usize => false,
            t if t == uapi::VFIO_TYPE1v2_IOMMU as usize => true,
            _ => return Err(EINVAL),
        };
        let valid = IovaRanges::new(IovaRange {
            start: 0,
            end: u64::MAX,
        })?;
        Arc::pin_init(
            pin_init!(Type1 {
                v2,
                inner <- new_mutex!(Type1Inner {
                    domains: KVec::new(),
                    mappings: RBTree::new(),
                    dma_avail: type1_params::dma_entry_limit(),
                    pgsize_bitmap: PAGE_MASK,
                    valid,
                    in_flight: KVec::new(),
                    dirty_tracking: false,
                }),
            }),
            GFP_KERNEL,
        )
    }
}

impl IommuBackend for Type1 {
    /// `VFIO_CHECK_EXTENSION` once this backend is set.
    fn check_extension(&self, extension: usize) -> bool {
        match extension {
            e if e == uapi::VFIO_DMA_CC_IOMMU as usize => {
                self.inner.lock().domains.iter().all(|d| d.coherent)
            }
            // Upstream offers it only once set, and not with emulated (mdev) groups, which
            // rvfio does not have.
            e if e == uapi::VFIO_UPDATE_VADDR as usize => true,
            _ => <Self as IommuDriver>::offers(extension),
        }
    }

    /// Attaches `group`, whose DMA ownership the caller holds; `dev` is one of its devices.
    fn attach_group(&self, group: &ARef<IommuGroup>, dev: &Device) -> Result {
        let mut inner = self.inner.lock();
        // Upstream's rule (its attach may have to pin through the user addresses).
        if inner.mappings.values().any(|m| m.vaddr.is_none()) {
            return Err(EBUSY);
        }
        let domain = Domain::new_paging(dev)?;
        let attachment = Domain::attach_group(&domain, group)?;
        let aperture = domain.aperture();
        if inner
            .ranges_in_use()
            .any(|m| m.start < aperture.start || m.end > aperture.end)
        {
            return Err(EINVAL);
        }
        let reserved = group.reserved_regions()?;
        if inner.ranges_in_use().any(|m| {
            reserved
                .iter()
                .any(|r| m.start <= r.end && m.end >= r.start)
        }) {
            return Err(EINVAL);
        }
        if !type1_params::allow_unsafe_interrupts() && !group.has_isolated_msi() {
            pr_warn!(
                "IOMMU group {}: no interrupt remapping support; set vfio_iommu_type1's allow_unsafe_interrupts to use it anyway\n",
                group.id()
            );
            return Err(EPERM);
        }
        let coherent = domain.enforce_cache_coherency();

        // Share an existing domain when the IOMMU driver and coherency agree, as upstream.
        let mut attachment = Some(attachment);
        for index in 0..inner.domains.len() {
            let entry = &inner.domains[index];
            if !entry.domain.same_driver(&domain) || entry.coherent != coherent {
                continue;
            }
            drop(attachment.take());
            match Domain::attach_group(&entry.domain, group) {
                Ok(shared) => {
                    let attached = AttachedGroup {
                        attachment: shared,
                        reserved,
                    };
                    inner.domains[index].groups.push(attached, GFP_KERNEL)?;
                    return inner.refresh();
                }
                Err(_) => attachment = Some(Domain::attach_group(&domain, group)?),
            }
        }
        let attached = AttachedGroup {
            attachment: attachment.ok_or(EINVAL)?,
            reserved,
        };

        // A domain of its own: it gets every existing mapping (those still in flight are
        // replayed into it by their `MAP_DMA` when it publishes them).
        let mut failed = None;
        for (replayed, mapping) in inner.mappings.values_mut().enumerate() {
            if let Err(e) = mapping.replay_into(&domain) {
                failed = Some((replayed, e));
                break;
            }
        }
        if let Some((replayed, e)) = failed {
            for done in inner.mappings.values_mut().take(replayed) {
                done.unmap_from(core::iter::once(&*domain));
            }
            return Err(e);
        }
        let mut groups = KVec::new();
        groups.push(attached, GFP_KERNEL)?;
        inner.domains.push(
            DomainEntry {
                groups,
                domain,
                coherent,
            },
            GFP_KERNEL,
        )?;
        inner.refresh()
    }

    /// Detaches `group`. The last group out of the container takes every mapping with it
    /// (the container drops the backend).
    fn detach_group(&self, group: &IommuGroup) {
        let mut inner = self.inner.lock();
        for entry in inner.domains.iter_mut() {
            entry
                .groups
                .retain(|g| !core::ptr::eq::<IommuGroup>(&**g.attachment.group(), group));
        }
        inner.domains.retain(|d| !d.groups.is_empty());
        if inner.domains.is_empty() {
            // Nothing maps the pages any more: unpin them now, as upstream does.
            inner.release_all();
        }
        // Recomputing can only fail on allocation; the old, stricter view stays then.
        let _ = inner.refresh();
    }

    /// Dispatches the backend's ioctls.
    fn ioctl(&self, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            uapi::VFIO_IOMMU_GET_INFO => self.get_info(arg),
            uapi::VFIO_IOMMU_MAP_DMA => self.map_dma(arg),
            uapi::VFIO_IOMMU_UNMAP_DMA => self.unmap_dma(arg),
            uapi::VFIO_IOMMU_DIRTY_PAGES => self.dirty_pages(arg),
            _ => Err(ENOTTY),
        }
    }
}

impl Type1 {
    /// `VFIO_IOMMU_GET_INFO`: page sizes, and capabilities MIGRATION, DMA_AVAIL and
    /// IOVA_RANGE in that order.
    fn get_info(&self, arg: usize) -> Result<isize> {
        const MINSZ: usize = core::mem::offset_of!(uapi::vfio_iommu_type1_info, cap_offset);
        let argsz = read_args::<uapi::vfio_iommu_type1_info>(arg, MINSZ)?.argsz;
        let mut info = uapi::vfio_iommu_type1_info {
            argsz,
            ..Default::default()
        };
        let mut caps = InfoCaps::new();
        {
            let inner = self.inner.lock();
            inner.check_attached()?;
            info.flags = uapi::VFIO_IOMMU_INFO_PGSIZES;
            info.iova_pgsizes = inner.pgsize_bitmap;

            // `struct vfio_iommu_type1_info_cap_migration` after its header: flags, padding,
            // pgsize_bitmap, max_dirty_bitmap_size.
            let mut migration = [0u8; 24];
            migration[8..16].copy_from_slice(&min_page_size(inner.pgsize_bitmap).to_ne_bytes());
            migration[16..24].copy_from_slice(&DIRTY_BITMAP_SIZE_MAX.to_ne_bytes());
            caps.add(
                uapi::VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION as u16,
                1,
                &migration,
            )?;
            let avail = uapi::vfio_iommu_type1_info_dma_avail {
                avail: inner.dma_avail,
                ..Default::default()
            };
            caps.add_struct(uapi::VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL as u16, 1, &avail)?;

            let ranges = inner.valid.as_slice();
            if !ranges.is_empty() {
                let mut body = KVec::new();
                // CAST: a handful of ranges.
                body.extend_from_slice(&(ranges.len() as u32).to_ne_bytes(), GFP_KERNEL)?;
                body.extend_from_slice(&0u32.to_ne_bytes(), GFP_KERNEL)?;
                for r in ranges {
                    let range = uapi::vfio_iova_range {
                        start: r.start,
                        end: r.end,
                    };
                    body.extend_from_slice(range.as_bytes(), GFP_KERNEL)?;
                }
                caps.add(uapi::VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE as u16, 1, &body)?;
            }
        }
        info.flags |= uapi::VFIO_IOMMU_INFO_CAPS;
        // What the caller's buffer holds; `info.argsz` may grow to what the chain needs.
        let argsz = info.argsz;
        let mut reply = InfoReply {
            arg,
            argsz,
            info_size: core::mem::size_of::<uapi::vfio_iommu_type1_info>(),
            caps: &mut caps,
        };
        match reply.place_chain()? {
            Ok(offset) => info.cap_offset = offset,
            Err(needed) => info.argsz = needed,
        }
        write_info(arg, argsz, &info)?;
        Ok(0)
    }

    /// `VFIO_IOMMU_MAP_DMA`.
    fn map_dma(&self, arg: usize) -> Result<isize> {
        const MINSZ: usize = core::mem::size_of::<uapi::vfio_iommu_type1_dma_map>();
        let map: uapi::vfio_iommu_type1_dma_map = read_args(arg, MINSZ)?;
        let mask = uapi::VFIO_DMA_MAP_FLAG_READ
            | uapi::VFIO_DMA_MAP_FLAG_WRITE
            | uapi::VFIO_DMA_MAP_FLAG_VADDR;
        if map.flags & !mask != 0 {
            return Err(EINVAL);
        }
        let set_vaddr = map.flags & uapi::VFIO_DMA_MAP_FLAG_VADDR != 0;
        let size = map.size;
        if size == 0 {
            return Err(EINVAL);
        }
        let last = map.iova.checked_add(size - 1).ok_or(EOVERFLOW)?;
        map.vaddr.checked_add(size - 1).ok_or(EOVERFLOW)?;
        let mut prot = Prot::NONE;
        if map.flags & uapi::VFIO_DMA_MAP_FLAG_WRITE != 0 {
            prot = prot.union(Prot::WRITE);
        }
        if map.flags & uapi::VFIO_DMA_MAP_FLAG_READ != 0 {
            prot = prot.union(Prot::READ);
        }
        // Access rights for a new mapping, none with a new address for an existing one.
        if (prot != Prot::NONE) == set_vaddr {
            return Err(EINVAL);
        }
        if set_vaddr {
            let mm = current_mm().ok_or(ESRCH)?;
            let mut inner = self.inner.lock();
            inner.check_attached()?;
            inner.check_aligned(&[size, map.iova, map.vaddr])?;
            return inner
                .update_vaddr(map.iova, last, map.vaddr, &mm)
                .map(|()| 0);
        }

        let node = RBTreeNodeReservation::new(GFP_KERNEL)?;
        let mm = current_mm().ok_or(ESRCH)?;
        let request = MapRequest {
            iova: map.iova,
            vaddr: map.vaddr,
            size,
            prot,
            merge_runs: !type1_params::disable_hugepages(),
            // Asked only of maps too large for one pinning batch: device memory takes no
            // pinning, so such a map is done under the lock (below) and its first chunk
            // goes straight to the PFN lookup.
            // CAST: user addresses fit in `usize`.
            device_memory: size > LOCKED_MAP_MAX && in_pfnmap(&mm, map.vaddr as usize),
        };

        let mut inner = self.inner.lock();
        inner.check_attached()?;
        inner.check_aligned(&[size, map.iova, map.vaddr])?;
        if inner.overlaps(map.iova, last) || inner.overlaps_in_flight(map.iova, last) {
            return Err(EEXIST);
        }
        if inner.dma_avail == 0 {
            return Err(ENOSPC);
        }
        if !inner.valid.contains(map.iova, last) {
            return Err(EINVAL);
        }
        if size > LOCKED_MAP_MAX && !request.device_memory {
            return self.map_unlocked(inner, &mm, node, request);
        }
        // One pinning batch, or device memory: done under the lock, which costs less than
        // reserving.
        let mapping = request.create(&mm, inner.domains.iter().map(|entry| &*entry.domain))?;
        inner.mappings.insert(node.into_node(map.iova, mapping));
        inner.dma_avail -= 1;
        Ok(0)
    }

    /// The rest of a `MAP_DMA` too large to pin under the lock, which the caller holds as
    /// `inner` and has checked the request against.
    ///
    /// The IOVA range and a mapping slot are reserved and the lock dropped; the pages are
    /// pinned and mapped into the domains of that moment (kept alive by their `Arc`s).
    /// Under the lock again, the mapping is reconciled with what changed meanwhile: taken
    /// out of domains whose groups all left, replayed into domains that came, and
    /// published. If the last group left meanwhile, the backend is released: the map is
    /// undone and succeeds, as upstream's would have completed before the detach.
    fn map_unlocked(
        &self,
        mut inner: Guard<'_, Type1Inner, MutexBackend>,
        mm: &MmWithUser,
        node: RBTreeNodeReservation<u64, Mapping>,
        request: MapRequest,
    ) -> Result<isize> {
        let range = IovaRange {
            start: request.iova,
            end: request.iova + (request.size - 1),
        };
        let mut snapshot = KVec::with_capacity(inner.domains.len(), GFP_KERNEL)?;
        for entry in inner.domains.iter() {
            snapshot.push(entry.domain.clone(), GFP_KERNEL)?;
        }
        inner.in_flight.push(range, GFP_KERNEL)?;
        inner.dma_avail -= 1;
        drop(inner);

        let created = request.create(mm, snapshot.iter().map(|domain| &**domain));

        let mut inner = self.inner.lock();
        inner.in_flight.retain(|r| r.start != range.start);
        inner.dma_avail += 1;
        let mut mapping = created?;
        let in_snapshot = |domain: &Arc<Domain>| snapshot.iter().any(|s| Arc::ptr_eq(s, domain));
        // Domains whose groups all left: nothing can reach them, but the pages must leave
        // them before they are unpinned (now or at unmap).
        let gone = snapshot.iter().filter(|d| !has_domain(&inner.domains, d));
        mapping.unmap_from(gone.map(|d| &**d));
        if inner.check_attached().is_err() {
            drop(inner);
            drop(mapping);
            return Ok(0);
        }
        // Domains that came: they get the mapping, as `attach_group` gave them the others.
        for (index, entry) in inner.domains.iter().enumerate() {
            if in_snapshot(&entry.domain) {
                continue;
            }
            if let Err(e) = mapping.replay_into(&entry.domain) {
                let current = inner.domains.iter().map(|entry| &entry.domain);
                let mapped = current
                    .enumerate()
                    .filter(|&(i, d)| i < index || in_snapshot(d))
                    .map(|(_, d)| &**d);
                mapping.unmap_from(mapped);
                drop(inner);
                drop(mapping);
                return Err(e);
            }
        }
        inner.mappings.insert(node.into_node(request.iova, mapping));
        inner.dma_avail -= 1;
        Ok(0)
    }

    /// `VFIO_IOMMU_UNMAP_DMA`: writes back the size unmapped.
    fn unmap_dma(&self, arg: usize) -> Result<isize> {
        const MINSZ: usize = core::mem::size_of::<uapi::vfio_iommu_type1_dma_unmap>();
        let mut unmap: uapi::vfio_iommu_type1_dma_unmap = read_args(arg, MINSZ)?;
        let all = unmap.flags & uapi::VFIO_DMA_UNMAP_FLAG_ALL != 0;
        let get_dirty = unmap.flags & uapi::VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP != 0;
        let vaddr = unmap.flags & uapi::VFIO_DMA_UNMAP_FLAG_VADDR != 0;
        let known = uapi::VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP
            | uapi::VFIO_DMA_UNMAP_FLAG_ALL
            | uapi::VFIO_DMA_UNMAP_FLAG_VADDR;
        if unmap.flags & !known != 0 || (get_dirty && (all || vaddr)) {
            return Err(EINVAL);
        }
        let bitmap = if get_dirty {
            if (unmap.argsz as usize) < MINSZ + core::mem::size_of::<uapi::VfioBitmap>() {
                return Err(EINVAL);
            }
            let raw: uapi::VfioBitmap = UserSlice::new(
                UserPtr::from_addr(arg + MINSZ),
                core::mem::size_of::<uapi::VfioBitmap>(),
            )
            .reader()
            .read()?;
            Some(UserBitmap::new(&raw, unmap.size)?)
        } else {
            None
        };
        let unmapped = if vaddr {
            self.invalidate_vaddrs(unmap.iova, unmap.size, all)?
        } else {
            self.unmap_range(unmap.iova, unmap.size, all, bitmap.as_ref())?
        };
        unmap.size = unmapped;
        UserSlice::new(UserPtr::from_addr(arg), MINSZ)
            .writer()
            .write(&unmap)?;
        Ok(0)
    }

    /// `VFIO_IOMMU_DIRTY_PAGES` (type1v2 only): start or stop dirty tracking, or report
    /// the dirty pages of a range of whole mappings (every page of them: see
    /// [`dirty`]).
    fn dirty_pages(&self, arg: usize) -> Result<isize> {
        const MINSZ: usize = core::mem::size_of::<uapi::vfio_iommu_type1_dirty_bitmap>();
        const START: u32 = uapi::VFIO_IOMMU_DIRTY_PAGES_FLAG_START;
        const STOP: u32 = uapi::VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP;
        const GET_BITMAP: u32 = uapi::VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
        if !self.v2 {
            return Err(EACCES);
        }
        let dirty: uapi::vfio_iommu_type1_dirty_bitmap = read_args(arg, MINSZ)?;
        if dirty.flags & !(START | STOP | GET_BITMAP) != 0 || dirty.flags.count_ones() != 1 {
            return Err(EINVAL);
        }
        match dirty.flags {
            START => self.inner.lock().dirty_tracking = true,
            STOP => self.inner.lock().dirty_tracking = false,
            _ => {
                const RANGE: usize = core::mem::size_of::<uapi::DirtyBitmapGet>();
                if (dirty.argsz as usize) < MINSZ + RANGE {
                    return Err(EINVAL);
                }
                let range: uapi::DirtyBitmapGet =
                    UserSlice::new(UserPtr::from_addr(arg + MINSZ), RANGE)
                        .reader()
                        .read()?;
                if range.size == 0 {
                    return Err(EINVAL);
                }
                let last = range.iova.checked_add(range.size - 1).ok_or(EOVERFLOW)?;
                let bitmap = UserBitmap::new(&range.bitmap, range.size)?;
                let inner = self.inner.lock();
                let pgsize = min_page_size(inner.pgsize_bitmap);
                if bitmap.pgsize != pgsize
                    || range.iova & (pgsize - 1) != 0
                    || range.size & (pgsize - 1) != 0
                    || !inner.dirty_tracking
                {
                    return Err(EINVAL);
                }
                inner.mark_dirty(&bitmap, range.iova, last)?;
            }
        }
        Ok(0)
    }

    /// Removes the mappings `[iova, iova + size)` selects under the v1/v2 rules, or all of
    /// them; returns the bytes unmapped.
    fn unmap_range(
        &self,
        iova: u64,
        size: u64,
        all: bool,
        bitmap: Option<&UserBitmap>,
    ) -> Result<u64> {
        let mut inner = self.inner.lock();
        inner.check_attached()?;
        let Some(last) = inner.unmap_selection(self.v2, iova, size, all, bitmap)? else {
            return Ok(0);
        };
        // The dirty bits of everything this unmaps, before anything is: a bitmap that
        // cannot be written fails the call with every mapping still in place.
        if let Some(bitmap) = bitmap {
            inner.mark_dirty(bitmap, iova, last)?;
        }
        let Type1Inner {
            domains,
            mappings,
            dma_avail,
            ..
        } = &mut *inner;

        // First take the selected mappings out of every domain, one IOMMU unmap (and IOTLB
        // flush) per run of IOVA-adjacent mappings rather than per mapping...
        let mut unmapped = 0u64;
        let mut short = false;
        let mut span: Option<Span> = None;
        let mut cursor = mappings.cursor_lower_bound_mut(&iova);
        while let Some(c) = cursor {
            let (&start, m) = c.current();
            if start > last {
                break;
            }
            unmapped += m.size;
            span = Some(match span {
                None => Span::of(m),
                Some(run) => run.grown(m).unwrap_or_else(|| {
                    short |= unmap_span(domains, run).is_err();
                    Span::of(m)
                }),
            });
            cursor = c.move_next();
        }
        if let Some(done) = span {
            short |= unmap_span(domains, done).is_err();
        }

        // ...then drop their records, which unpins the pages: no device can reach them now.
        // Unless the IOMMU came up short on some span: then no page of this call is unpinned
        // (the user's IOVA range is free again either way, as upstream's).
        // Their `locked_vm` charges go back together once all are released. Removing a
        // node hands back the cursor at its successor (or, at the end of the tree, its
        // predecessor, which is below `iova`).
        let mut uncharge = LockedVmBatch::default();
        let mut cursor = mappings.cursor_lower_bound_mut(&iova);
        while let Some(c) = cursor {
            let key = *c.current().0;
            if key < iova || key > last {
                break;
            }
            let (next, node) = c.remove_current();
            let mapping = node.to_key_value().1;
            uncharge.add(if short {
                mapping.release_leaked()
            } else {
                mapping.release()
            });
            *dma_avail += 1;
            cursor = next;
        }
        drop(uncharge);
        Ok(unmapped)
    }
}

impl Type1 {
    /// `UNMAP_DMA` with `VADDR`: the user addresses of the mappings `[iova, iova + size)`
    /// selects (as an unmap would) are invalid until `MAP_DMA` with `VADDR` replaces them;
    /// the mappings stay pinned and mapped, devices keep reaching their memory. Returns
    /// their size; -EINVAL, with nothing changed, if an address of one is invalid already.
    fn invalidate_vaddrs(&self, iova: u64, size: u64, all: bool) -> Result<u64> {
        let mut inner = self.inner.lock();
        inner.check_attached()?;
        let Some(last) = inner.unmap_selection(self.v2, iova, size, all, None)? else {
            return Ok(0);
        };
        // Looked at before anything changes: upstream's undo of the earlier ones on the
        // way leaves the same state.
        let mut invalid = false;
        inner.for_each_in(iova, last, |m| invalid |= m.vaddr.is_none());
        if invalid {
            return Err(EINVAL);
        }
        let mut invalidated = 0;
        inner.for_each_in(iova, last, |m| {
            m.vaddr = None;
            invalidated += m.size;
        });
        Ok(invalidated)
    }
}

/// Whether `domain` is one of `domains`.
fn has_domain(domains: &[DomainEntry], domain: &Arc<Domain>) -> bool {
    domains
        .iter()
        .any(|entry| Arc::ptr_eq(&entry.domain, domain))
}

/// Largest `MAP_DMA` pinned and mapped under the backend lock: one pinning batch.
const LOCKED_MAP_MAX: u64 = (dma::PIN_BATCH_PAGES as u64) << PAGE_SHIFT;

/// A checked `MAP_DMA` request.
struct MapRequest {
    iova: u64,
    vaddr: u64,
    size: u64,
    prot: Prot,
    /// Physically contiguous pages become one IOMMU mapping (not `disable_hugepages`).
    merge_runs: bool,
    /// `vaddr` was in a BAR mmap when the request was checked.
    device_memory: bool,
}

impl MapRequest {
    /// Pins the request's memory (of `mm`, the caller's) and maps it into `domains`.
    fn create<'a>(
        &self,
        mm: &MmWithUser,
        domains: impl Iterator<Item = &'a Domain> + Clone,
    ) -> Result<Mapping> {
        let memory = UserMemory {
            mm,
            start: self.vaddr,
            total_pages: self.size >> PAGE_SHIFT,
            merge_runs: self.merge_runs,
            device_first: self.device_memory,
        };
        Mapping::create(domains, self.iova, self.prot, &memory)
    }
}

/// A run of IOVA-adjacent mappings, `[first, last]`: its end is inclusive, as a mapping's,
/// so that a run may end at the top of a 64-bit IOVA space (AMD-Vi's aperture reaches it).
///
/// # Invariants
///
/// `first <= last` and `last - first < u64::MAX`: its length, `last - first + 1`, is a `u64`.
#[derive(Clone, Copy)]
struct Span {
    first: u64,
    last: u64,
}

impl Span {
    /// The span of one mapping.
    fn of(m: &Mapping) -> Self {
        // INVARIANT: a mapping is `size >= 1` bytes at `iova`, `last() = iova + size - 1`.
        Span {
            first: m.iova,
            last: m.last(),
        }
    }

    /// This span with `m` appended, if `m` starts right after it and the result's length
    /// still fits in 64 bits.
    fn grown(self, m: &Mapping) -> Option<Self> {
        let adjacent = self.last.checked_add(1) == Some(m.iova);
        // INVARIANT: `m.last() >= m.iova > self.last >= self.first`, checked to fit.
        (adjacent && m.last() - self.first < u64::MAX).then_some(Span {
            first: self.first,
            last: m.last(),
        })
    }

    /// Its length in bytes.
    fn len(self) -> u64 {
        // By the type invariant this does not overflow.
        self.last - self.first + 1
    }
}

// IOMMU lengths are `usize`, IOVA lengths `u64`: rvfio is for 64-bit kernels (x86_64, arm64).
const _: () = assert!(core::mem::size_of::<usize>() == core::mem::size_of::<u64>());

/// Unmaps `span` from every domain; an error if any came up short.
fn unmap_span(domains: &[DomainEntry], span: Span) -> Result<(), ShortUnmap> {
    let mut result = Ok(());
    for entry in domains {
        // CAST: `usize` is as wide as `u64` (asserted above).
        if let Err(short) = entry.domain.unmap(span.first, span.len() as usize) {
            result = Err(short);
        }
    }
    result
}

impl Type1Inner {
    /// Marks every page of the mappings in `[first, last]` dirty in `bitmap`, whose first
    /// bit is `first`'s page. -EINVAL when a mapping straddles either end (upstream's
    /// `vfio_iova_dirty_bitmap()`); what the mappings' starts are is not checked.
    fn mark_dirty(&self, bitmap: &UserBitmap, first: u64, last: u64) -> Result {
        if matches!(self.containing(first), Some((start, _)) if start != first)
            || matches!(self.containing(last), Some((_, end)) if end != last)
        {
            return Err(EINVAL);
        }
        // One search per mapping: a shared cursor cannot step.
        let mut from = Some(first);
        while let Some(c) = from.and_then(|key| self.mappings.cursor_lower_bound(&key)) {
            let (&start, m) = c.current();
            if start > last {
                break;
            }
            bitmap.mark(first, start, m.size)?;
            from = m.last().checked_add(1);
        }
        Ok(())
    }

    /// -EINVAL unless every value is a multiple of the smallest IOMMU page.
    fn check_aligned(&self, values: &[u64]) -> Result {
        let pgsize = min_page_size(self.pgsize_bitmap);
        if values.iter().any(|v| v & (pgsize - 1) != 0) {
            return Err(EINVAL);
        }
        Ok(())
    }

    /// The last IOVA of the range an `UNMAP_DMA` of `[iova, iova + size)` (or of `all`)
    /// acts on, after upstream's checks of it and of `bitmap`; `None` when it acts on
    /// nothing (v1, starting inside a mapping).
    fn unmap_selection(
        &self,
        v2: bool,
        iova: u64,
        size: u64,
        all: bool,
        bitmap: Option<&UserBitmap>,
    ) -> Result<Option<u64>> {
        let pgsize = min_page_size(self.pgsize_bitmap);
        self.check_aligned(&[iova])?;
        let last = if all {
            if iova != 0 || size != 0 {
                return Err(EINVAL);
            }
            u64::MAX
        } else {
            if size == 0 {
                return Err(EINVAL);
            }
            self.check_aligned(&[size])?;
            iova.checked_add(size - 1).ok_or(EOVERFLOW)?
        };
        // A bitmap only while tracking, and of the smallest IOMMU page (as upstream).
        if bitmap.is_some_and(|b| !self.dirty_tracking || b.pgsize != pgsize) {
            return Err(EINVAL);
        }
        let head = self.containing(iova);
        if v2 && !all {
            // v2 refuses to split a mapping at either end.
            if matches!(head, Some((first, _)) if first != iova) {
                return Err(EINVAL);
            }
            if matches!(self.containing(last), Some((_, end)) if end != last) {
                return Err(EINVAL);
            }
        }
        // v1: a range starting inside a mapping acts on nothing (v2 refused it above); one
        // covering a mapping's first IOVA takes the whole mapping.
        if matches!(head, Some((first, _)) if first < iova) {
            return Ok(None);
        }
        Ok(Some(last))
    }

    /// Runs `f` on every mapping starting in `[first, last]`, in IOVA order.
    fn for_each_in(&mut self, first: u64, last: u64, mut f: impl FnMut(&mut Mapping)) {
        let mut cursor = self.mappings.cursor_lower_bound_mut(&first);
        while let Some(mut c) = cursor {
            let (&start, mapping) = c.current_mut();
            if start > last {
                break;
            }
            f(mapping);
            cursor = c.move_next();
        }
    }

    /// `MAP_DMA` with `VADDR` of `[iova, last]` to `vaddr` of `mm`: -ENOENT where nothing
    /// is mapped, -EINVAL unless exactly one mapping is there, whose address was
    /// invalidated.
    fn update_vaddr(&mut self, iova: u64, last: u64, vaddr: u64, mm: &MmWithUser) -> Result {
        if !self.overlaps(iova, last) {
            return Err(ENOENT);
        }
        match self.mappings.get_mut(&iova) {
            Some(mapping) if mapping.last() == last && mapping.vaddr.is_none() => {
                mapping.update_vaddr(vaddr, mm)
            }
            _ => Err(EINVAL),
        }
    }

    /// -EINVAL once the last group has left: the container is releasing this backend, and a
    /// call that took it just before must fail as upstream's (which holds the container's
    /// group lock across backend calls) rather than act on a detached backend. The backend
    /// is published only after its first group attached, so no domain means released.
    fn check_attached(&self) -> Result {
        if self.domains.is_empty() {
            return Err(EINVAL);
        }
        Ok(())
    }

    /// The IOVA span `(first, last)` of the mapping containing `iova`, if any: one tree
    /// search (two when `iova` is above every mapping).
    fn containing(&self, iova: u64) -> Option<(u64, u64)> {
        let span = |m: &Mapping| (m.iova, m.last());
        // The mapping with the greatest start not above `iova`.
        let candidate = match self.mappings.cursor_lower_bound(&iova) {
            Some(c) if *c.current().0 == iova => Some(span(c.current().1)),
            Some(c) => c.peek_prev().map(|(_, m)| span(m)),
            None => self.mappings.cursor_back().map(|c| span(c.current().1)),
        };
        candidate.filter(|&(_, last)| last >= iova)
    }

    /// Whether any mapping intersects `[start, last]`, with the same searches as
    /// [`Type1Inner::containing`].
    fn overlaps(&self, start: u64, last: u64) -> bool {
        match self.mappings.cursor_lower_bound(&start) {
            // The first mapping starting at or after `start` starts inside the range, or the
            // one before it reaches into the range.
            Some(c) => {
                *c.current().0 <= last || matches!(c.peek_prev(), Some((_, m)) if m.last() >= start)
            }
            None => matches!(self.mappings.cursor_back(), Some(c) if c.current().1.last() >= start),
        }
    }

    /// Whether a `MAP_DMA` in flight reserved part of `[start, last]`.
    fn overlaps_in_flight(&self, start: u64, last: u64) -> bool {
        self.in_flight
            .iter()
            .any(|r| r.start <= last && r.end >= start)
    }

    /// The IOVA ranges of every mapping, published or in flight.
    fn ranges_in_use(&self) -> impl Iterator<Item = IovaRange> + '_ {
        let published = self.mappings.values().map(|m| IovaRange {
            start: m.iova,
            end: m.last(),
        });
        Iterator::chain(published, self.in_flight.iter().copied())
    }

    /// Drops every mapping, which no domain maps any more: unpins all and uncharges
    /// `locked_vm` in one go per address space.
    fn release_all(&mut self) {
        let mut uncharge = LockedVmBatch::default();
        let mut cursor = self.mappings.cursor_front_mut();
        while let Some(c) = cursor {
            // Removing the first node hands back the cursor at its successor.
            let (next, node) = c.remove_current();
            uncharge.add(node.to_key_value().1.release());
            cursor = next;
        }
    }

    /// Recomputes the common page sizes and the valid IOVA ranges after a group came or
    /// went.
    fn refresh(&mut self) -> Result {
        let mut bitmap = PAGE_MASK;
        for entry in self.domains.iter() {
            bitmap &= entry.domain.pgsize_bitmap();
        }
        // The IOMMU may map less than a CPU page; users still map whole pages.
        if bitmap & !PAGE_MASK != 0 {
            bitmap &= PAGE_MASK;
            bitmap |= PAGE_SIZE;
        }
        let mut valid = IovaRanges::new(IovaRange {
            start: 0,
            end: u64::MAX,
        })?;
        for entry in self.domains.iter() {
            valid.clamp(entry.domain.aperture());
        }
        for entry in self.domains.iter() {
            for group in entry.groups.iter() {
                for hole in group.reserved.iter() {
                    valid.exclude(*hole)?;
                }
            }
        }
        self.pgsize_bitmap = bitmap;
        self.valid = valid;
        Ok(())
    }
}
