// SPDX-License-Identifier: GPL-2.0

//! What VFIO userspace checks before it uses a device, done the way DPDK's EAL and
//! rust-vmm do: the modules are present under their upstream names, the PCI driver is
//! `vfio-pci`, every bound device sits in an IOMMU group, and the container answers.
//!
//! Usage: `vfio_discovery BDF...`: the devices that must be bound to vfio-pci.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::fs::MetadataExt;

use rvfio_selftests::*;

fn main() {
    let mut tap = Tap::default();

    // DPDK's rte_eal_check_module("vfio") / ("vfio_pci").
    for module in ["vfio", "vfio_pci"] {
        let state = fs::read_to_string(format!("/sys/module/{module}/initstate"));
        tap.check(
            state.as_deref().map(str::trim).ok() == Some("live"),
            &format!("/sys/module/{module} is live"),
        );
    }

    let expected: Vec<String> = std::env::args().skip(1).collect();
    tap.check(!expected.is_empty(), "devices to check were named");
    for bdf in &expected {
        let driver = fs::read_link(format!("/sys/bus/pci/devices/{bdf}/driver"));
        tap.check(
            driver.as_ref().is_ok_and(|d| d.ends_with("vfio-pci")),
            &format!("{bdf} is bound to vfio-pci ({driver:?})"),
        );
        let group = fs::read_link(format!("/sys/bus/pci/devices/{bdf}/iommu_group"));
        tap.check(group.is_ok(), &format!("{bdf} has an IOMMU group"));
        let dma = fs::read_to_string(format!("/sys/bus/pci/devices/{bdf}/iommu_group/type"));
        tap.check(dma.is_ok(), &format!("{bdf}: IOMMU group type readable ({:?})", dma.map(|s| s.trim().to_owned())));
    }

    // The container node and its answers.
    let meta = fs::metadata("/dev/vfio/vfio");
    tap.check(
        meta.as_ref().is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == (10 << 8 | 196)),
        "/dev/vfio/vfio is char 10:196",
    );
    match OpenOptions::new().read(true).write(true).open("/dev/vfio/vfio") {
        Ok(container) => {
            tap.check(
                ioctl_val(&container, VFIO_GET_API_VERSION, 0).ok() == Some(VFIO_API_VERSION),
                "GET_API_VERSION is VFIO_API_VERSION",
            );
            let answers: Vec<_> =
                (0..=10).map(|ext| ioctl_val(&container, VFIO_CHECK_EXTENSION, ext)).collect();
            tap.check(
                answers.iter().all(|a| matches!(a, Ok(0) | Ok(1))),
                &format!("CHECK_EXTENSION answers 0 or 1: {answers:?}"),
            );
        }
        Err(e) => tap.check(false, &format!("open /dev/vfio/vfio: {e}")),
    }
    tap.finish()
}
