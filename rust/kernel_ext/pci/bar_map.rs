// SPDX-License-Identifier: GPL-2.0

//! A bound function's BARs and expansion ROM mapped for CPU access, each released when
//! dropped.

use kernel::{
    bindings,
    ffi::{
        c_int,
        c_uint, //
    },
    prelude::*, //
};

use super::pci_raw::{
    PciFunction,
    Width,
    ROM_RESOURCE, //
};

impl PciFunction {
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

    /// Reserves the rest of the page of BAR `index` when it is a memory BAR smaller than a
    /// page that starts a page, so that the whole page may be mapped to user space: nothing
    /// else can be assigned into it while the reservation lives. `None` for other BARs, or
    /// when the rest of the page is taken.
    pub(crate) fn reserve_page_rest(&self, index: u32) -> Option<PageRestReservation> {
        if index >= ROM_RESOURCE {
            return None;
        }
        // CAST: a BAR index below 6.
        // SAFETY: As in `enable`; the helper checks the BAR and allocates the reservation.
        let raw = unsafe { rvfio_pci_reserve_page_rest(self.raw(), index as c_int) };
        // INVARIANT: inserted just now, ours.
        core::ptr::NonNull::new(raw).map(|raw| PageRestReservation { raw })
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
        // CAST: a width of at most 8 bytes.
        // SAFETY: `addr` is inside the mapping (checked by `io_addr`) for `width` bytes.
        unsafe { rvfio_bar_write(addr, width.bytes() as c_uint, value) };
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

/// The rest of the page of a BAR smaller than a page, reserved in the resource tree
/// (upstream's "vfio sub-page reserved" resource).
///
/// # Invariants
///
/// `raw` is a resource allocated and inserted by `rvfio_pci_reserve_page_rest()`, removed
/// and freed once, in [`Drop`].
pub(crate) struct PageRestReservation {
    raw: core::ptr::NonNull<bindings::resource>,
}

// SAFETY: The reservation is a resource-tree entry, released under the tree's own lock from
// any thread.
unsafe impl Send for PageRestReservation {}
// SAFETY: It has no `&self` methods.
unsafe impl Sync for PageRestReservation {}

impl Drop for PageRestReservation {
    fn drop(&mut self) {
        // SAFETY: Inserted by the helper and not yet released (type invariant).
        unsafe { rvfio_pci_release_page_rest(self.raw.as_ptr()) };
    }
}

// `struct pci_dev` has a zero-sized member that trips the lint; only pointers cross here.
#[allow(improper_ctypes)]
extern "C" {
    fn rvfio_pci_reserve_page_rest(
        pdev: *mut bindings::pci_dev,
        bar: c_int,
    ) -> *mut bindings::resource;
    fn rvfio_pci_release_page_rest(rest: *mut bindings::resource);
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
    // CAST: a width of at most 8 bytes.
    // SAFETY: `addr` is inside a live I/O mapping for `width` bytes (`io_addr`).
    unsafe { rvfio_bar_read(addr, width.bytes() as c_uint) }
}

extern "C" {
    /// One access of `bytes` (1, 2, 4 or 8) at `addr`: ioread8/16/32/64 (64 as two 32-bit
    /// accesses, low half first, where the architecture has no 64-bit one).
    fn rvfio_bar_read(addr: *mut core::ffi::c_void, bytes: c_uint) -> u64;
    /// The write twin of `rvfio_bar_read`: the low `bytes` of `value`.
    fn rvfio_bar_write(addr: *mut core::ffi::c_void, bytes: c_uint, value: u64);
}
