// SPDX-License-Identifier: GPL-2.0

//! The MSI and MSI-X vectors of a bound function, owned: freed when dropped.

use kernel::{
    bindings,
    prelude::*, //
};

use super::pci_raw::PciFunction;

impl PciFunction {
    /// Allocates between `min` and `max` MSI (or MSI-X) vectors.
    pub(crate) fn alloc_irq_vectors(&self, min: u32, max: u32, msix: bool) -> Result<IrqVectors> {
        let kind = if msix {
            bindings::PCI_IRQ_MSIX
        } else {
            bindings::PCI_IRQ_MSI
        };
        // SAFETY: As in `enable`.
        let ret = unsafe { bindings::pci_alloc_irq_vectors(self.raw(), min, max, kind) };
        kernel::error::to_result(ret)?;
        // INVARIANT: allocated just now.
        Ok(IrqVectors {
            function: self.clone(),
            // CAST: non-negative.
            count: ret as u32,
        })
    }

    /// Whether MSI-X vectors can be added while MSI-X is enabled.
    pub(crate) fn msix_can_alloc_dyn(&self) -> bool {
        // SAFETY: As in `enable`.
        unsafe { bindings::pci_msix_can_alloc_dyn(self.raw()) }
    }
}

/// The MSI or MSI-X vectors of a function, freed when dropped: drop the handlers of their
/// lines first (a `Drop` order the holder's field order states).
///
/// # Invariants
///
/// `count` vectors of `function` were allocated by `pci_alloc_irq_vectors()`, and are freed
/// once, in [`Drop`].
pub(crate) struct IrqVectors {
    function: PciFunction,
    count: u32,
}

impl IrqVectors {
    /// How many vectors were allocated.
    pub(crate) fn count(&self) -> u32 {
        self.count
    }

    /// The Linux IRQ number of vector `n`.
    pub(crate) fn irq(&self, n: u32) -> Result<u32> {
        // SAFETY: A bound function (`PciFunction` invariant) with vectors allocated.
        let ret = unsafe { bindings::pci_irq_vector(self.function.raw(), n) };
        kernel::error::to_result(ret)?;
        // CAST: non-negative.
        Ok(ret as u32)
    }

    /// Adds MSI-X vector `index` while MSI-X is enabled; its Linux IRQ number.
    pub(crate) fn alloc_msix_at(&self, index: u32) -> Result<u32> {
        // SAFETY: As in `irq`; no affinity descriptor. The vector is freed with the rest.
        let map = unsafe {
            bindings::pci_msix_alloc_irq_at(self.function.raw(), index, core::ptr::null())
        };
        if map.index < 0 {
            return Err(Error::from_errno(map.index));
        }
        // CAST: non-negative.
        Ok(map.virq as u32)
    }
}

impl Drop for IrqVectors {
    fn drop(&mut self) {
        // SAFETY: Allocated (type invariant), freed once here.
        unsafe { bindings::pci_free_irq_vectors(self.function.raw()) }
    }
}
