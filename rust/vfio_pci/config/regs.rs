// SPDX-License-Identifier: GPL-2.0

//! Typed config-space registers (`kernel::bitfield!`), for the fields vfio-pci acts on.

use kernel::bitfield;

bitfield! {
    /// The COMMAND register (`PCI_COMMAND`).
    pub(crate) struct Command(u16) {
        /// INTx Disable: the function does not assert INTx.
        10:10 intx_disable => bool;
        /// Memory Space Enable: memory BARs decode.
        1:1 memory => bool;
        /// I/O Space Enable: I/O BARs decode.
        0:0 io => bool;
    }
}

bitfield! {
    /// The Power Management Control/Status register of the PM capability (`PCI_PM_CTRL`).
    pub(crate) struct PmControl(u16) {
        /// No_Soft_Reset: the function keeps its state going from D3hot to D0.
        3:3 no_soft_reset => bool;
    }
}
