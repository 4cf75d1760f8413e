// SPDX-License-Identifier: GPL-2.0

//! Raw PCI device state that 7.3's `pci::Device` does not expose.

use kernel::{
    bindings,
    device::DeviceContext,
    pci, //
};

/// `PCI_HEADER_TYPE_NORMAL`: a function, not a bridge.
pub(crate) const HEADER_TYPE_NORMAL: u8 = bindings::PCI_HEADER_TYPE_NORMAL as u8;

/// The header type (`pdev->hdr_type`, without the multi-function bit).
pub(crate) fn header_type(pdev: &pci::Device) -> u8 {
    // SAFETY: `pdev` is live for the borrow; `hdr_type` is set at enumeration and then
    // never changes.
    unsafe { (*pci_dev_ptr(pdev)).hdr_type }
}

/// The `struct pci_dev` behind `pdev`; the only such cast in rvfio.
fn pci_dev_ptr<Ctx: DeviceContext>(pdev: &pci::Device<Ctx>) -> *mut bindings::pci_dev {
    // CAST: `pci::Device<Ctx>` is `#[repr(transparent)]` over `Opaque<bindings::pci_dev>`,
    // itself `#[repr(transparent)]` over the C struct; used only while `pdev` lives.
    core::ptr::from_ref(pdev).cast_mut().cast()
}
