// SPDX-License-Identifier: GPL-2.0

//! What vfio-pci does with its module parameters at load and probe: the `ids=` list
//! becomes dynamic IDs of the driver (upstream's `vfio_pci_fill_ids()`), and the device
//! denylist refuses devices with known errata unless `disable_denylist` is set.

use kernel::{
    pci,
    prelude::*,
    str::BStr, //
};

use crate::{
    driver::VfioPciDriver,
    ext::{
        pci_driver::{
            DynId,
            PciDriverRegistration,
            PCI_ANY_ID, //
        },
        pci_params,
    },
};

/// Parses a hex number at the start of `s` as `sscanf("%x")` does (an optional `0x`, then
/// at least one digit, wrapping on overflow): the value and the bytes used.
fn parse_hex(s: &[u8]) -> Option<(u32, usize)> {
    let start = match s {
        [b'0', b'x' | b'X', c, ..] if c.is_ascii_hexdigit() => 2,
        _ => 0,
    };
    let digits = s[start..]
        .iter()
        .take_while(|c| c.is_ascii_hexdigit())
        .count();
    if digits == 0 {
        return None;
    }
    let value = s[start..start + digits].iter().fold(0u32, |v, &c| {
        // PANIC: only hex digits were taken.
        let d = char::from(c).to_digit(16).unwrap_or(0);
        v.wrapping_mul(16).wrapping_add(d)
    });
    Some((value, start + digits))
}

/// Parses `vendor:device[:subvendor[:subdevice[:class[:class_mask]]]]` the way upstream's
/// `sscanf("%x:%x:%x:%x:%x:%x")` does: fields are taken until one is missing or malformed.
/// The fields found and how many.
fn parse_fields(mut s: &[u8]) -> ([u32; 6], usize) {
    let mut fields = [0u32; 6];
    let mut n = 0;
    while n < fields.len() {
        let Some((value, used)) = parse_hex(s) else {
            break;
        };
        fields[n] = value;
        n += 1;
        match s[used..].split_first() {
            Some((b':', rest)) => s = rest,
            _ => break,
        }
    }
    (fields, n)
}

/// Adds every ID of `ids=` to the driver, warning about malformed entries and IDs the PCI
/// core refuses, as upstream.
pub(crate) fn add_ids(driver: &PciDriverRegistration<VfioPciDriver>) {
    for entry in pci_params::ids().to_bytes().split(|&c| c == b',') {
        if entry.is_empty() {
            continue;
        }
        let (f, n) = parse_fields(entry);
        if n < 2 {
            pr_warn!("invalid id string \"{}\"\n", BStr::from_bytes(entry));
            continue;
        }
        let id = DynId {
            vendor: f[0],
            device: f[1],
            subvendor: if n > 2 { f[2] } else { PCI_ANY_ID },
            subdevice: if n > 3 { f[3] } else { PCI_ANY_ID },
            class: f[4],
            class_mask: f[5],
        };
        match driver.add_dynid(&id) {
            Ok(()) => pr_info!(
                "add [{:04x}:{:04x}[{:04x}:{:04x}]] class {:#08x}/{:08x}\n",
                id.vendor,
                id.device,
                id.subvendor,
                id.subdevice,
                id.class,
                id.class_mask
            ),
            Err(e) => pr_warn!(
                "failed to add dynamic id [{:04x}:{:04x}[{:04x}:{:04x}]] class {:#08x}/{:08x} ({})\n",
                id.vendor,
                id.device,
                id.subvendor,
                id.subdevice,
                id.class,
                id.class_mask,
                e.to_errno()
            ),
        }
    }
}

/// `PCI_VENDOR_ID_INTEL`.
const VENDOR_INTEL: u16 = 0x8086;

/// Intel devices with errata that make them unsafe to hand to users (upstream's
/// `vfio_pci_dev_in_denylist()`): QAT C3XXX, C62X and DH895XCC PFs and VFs, DSA and IAX
/// of Sapphire Rapids.
const INTEL_DENYLIST: [u16; 8] = [
    0x19e2, 0x19e3, 0x37c8, 0x37c9, 0x0435, 0x0443, 0x0b25, 0x0cfe,
];

/// Whether probe must refuse `pdev` because of the denylist.
pub(crate) fn denylisted(pdev: &pci::Device) -> bool {
    let vendor = pdev.vendor_id().as_raw();
    let device = pdev.device_id();
    if vendor != VENDOR_INTEL || !INTEL_DENYLIST.contains(&device) {
        return false;
    }
    if pci_params::disable_denylist() {
        dev_warn!(
            pdev.as_ref(),
            "device denylist disabled - allowing device {:04x}:{:04x}.\n",
            vendor,
            device
        );
        return false;
    }
    dev_warn!(
        pdev.as_ref(),
        "{:04x}:{:04x} exists in vfio-pci device denylist, driver probing disallowed.\n",
        vendor,
        device
    );
    true
}
