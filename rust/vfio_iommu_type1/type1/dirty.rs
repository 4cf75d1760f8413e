// SPDX-License-Identifier: GPL-2.0

//! Dirty page bitmaps (`VFIO_IOMMU_DIRTY_PAGES`' `GET_BITMAP` and `UNMAP_DMA`'s
//! `GET_DIRTY_BITMAP`), as upstream's type1 writes them.
//!
//! Every group here is IOMMU-backed, and such a device may write any page it can reach, so
//! upstream reports every page of every mapping in the range dirty, at each query, for as
//! long as tracking runs; there is no per-page state to keep. What remains is the user's
//! bitmap: one bit per `pgsize` page from the range's first IOVA, each mapping's bits
//! written in whole 64-bit words (upstream's `update_user_bitmap()`): a mapping that
//! starts on a word boundary writes its words alone (bits above its last page cleared), one
//! that starts inside a word ORs its bits into what that word held, the user's bits above
//! it included (upstream ORs the whole word back).
//!
//! Unlike upstream, a query reports nothing but mappings' pages: upstream shifts its
//! per-mapping bitmap in place for a mapping that starts inside a word, with the user's
//! word ORed in, and clears only the mapping's length of it afterwards, so later queries
//! of that mapping carry stale bits of the earlier shift and of the user's buffer.

use kernel::{
    prelude::*,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

use crate::{
    ext::gup::user_range_ok,
    uapi::VfioBitmap, //
};

/// `DIRTY_BITMAP_SIZE_MAX` of upstream: a bitmap covering `INT_MAX` pages.
pub(crate) const DIRTY_BITMAP_SIZE_MAX: u64 = ((i32::MAX as u64).next_multiple_of(64)) / 8;

/// Bytes of bitmap written per user copy.
const CHUNK_BYTES: usize = 4096;

/// A user's dirty bitmap, checked as upstream checks it before anything is done.
pub(crate) struct UserBitmap {
    /// Bytes per bit.
    pub(crate) pgsize: u64,
    /// User address of the first word.
    data: u64,
}

impl UserBitmap {
    /// The bitmap `raw` for a range of `size` bytes: -EINVAL unless it is a user range
    /// (`access_ok()`) large enough for one bit per page, and at most
    /// [`DIRTY_BITMAP_SIZE_MAX`].
    pub(crate) fn new(raw: &VfioBitmap, size: u64) -> Result<Self> {
        if !user_range_ok(raw.data, raw.size) {
            return Err(EINVAL);
        }
        // Upstream shifts by `__ffs(pgsize)`; a page size that is not a power of two fails
        // its later comparison with the IOMMU's smallest page anyway.
        let npages = size >> (raw.pgsize.trailing_zeros() % 64);
        if npages == 0
            || raw.size == 0
            || raw.size > DIRTY_BITMAP_SIZE_MAX
            || raw.size < npages.div_ceil(64) * 8
        {
            return Err(EINVAL);
        }
        Ok(Self {
            pgsize: raw.pgsize,
            data: raw.data,
        })
    }

    /// Marks dirty the `size` bytes mapped at `iova`, in the bitmap of a range that starts
    /// at `base` (`base <= iova`, both multiples of `pgsize`).
    pub(crate) fn mark(&self, base: u64, iova: u64, size: u64) -> Result {
        let pgshift = self.pgsize.trailing_zeros();
        let nbits = size >> pgshift;
        let bit_offset = (iova - base) >> pgshift;
        let shift = bit_offset % 64;
        let total = nbits + shift;
        let mut addr = self.data + bit_offset / 64 * 8;
        // A first word shared with what comes before keeps what it held.
        let mut keep = 0;
        if shift != 0 {
            keep = UserSlice::new(UserPtr::from_addr(addr as usize), 8)
                .reader()
                .read()?;
        }
        let words = total.div_ceil(64);
        let mut chunk = KVec::with_capacity(CHUNK_BYTES.min(words as usize * 8), GFP_KERNEL)?;
        for w in 0..words {
            let first = if w == 0 { shift } else { 0 };
            let end = (total - w * 64).min(64);
            let ones = bits(first, end) | if w == 0 { keep } else { 0 };
            chunk.extend_from_slice(&ones.to_ne_bytes(), GFP_KERNEL)?;
            if chunk.len() == chunk.capacity() || w + 1 == words {
                UserSlice::new(UserPtr::from_addr(addr as usize), chunk.len())
                    .writer()
                    .write_slice(&chunk)?;
                addr += chunk.len() as u64;
                chunk.clear();
            }
        }
        Ok(())
    }
}

/// The bits `[first, end)` of a word (`first < end <= 64`).
fn bits(first: u64, end: u64) -> u64 {
    let below_end = if end == 64 { u64::MAX } else { (1 << end) - 1 };
    below_end & !((1 << first) - 1)
}
