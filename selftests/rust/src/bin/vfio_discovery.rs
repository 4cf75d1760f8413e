// SPDX-License-Identifier: GPL-2.0

//! What VFIO userspace checks before it uses a device, done the way DPDK's EAL and
//! rust-vmm do: the modules are present under their upstream names, the PCI driver is
//! `vfio-pci`, every bound device sits in an IOMMU group whose node opens and is viable,
//! the container answers, and each group joins the container.
//!
//! Usage: `vfio_discovery BDF...`: the devices that must be bound to vfio-pci.

use std::fs::{self, OpenOptions};
use std::os::fd::AsRawFd;
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
            for bdf in &expected {
                attach_group(&mut tap, bdf, &container);
            }
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

/// Opens `bdf`'s group node, checks it is viable (rust-vmm wants exactly VIABLE), and
/// attaches it to `container` as QEMU and DPDK do.
fn attach_group(tap: &mut Tap, bdf: &str, container: &std::fs::File) {
    let group_id = fs::read_link(format!("/sys/bus/pci/devices/{bdf}/iommu_group"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    let Some(group_id) = group_id else {
        return tap.check(false, &format!("{bdf}: no IOMMU group"));
    };
    let path = format!("/dev/vfio/{group_id}");
    let group = match OpenOptions::new().read(true).write(true).open(&path) {
        Ok(group) => group,
        Err(e) => return tap.check(false, &format!("open {path}: {e}")),
    };
    tap.check(
        group_flags(&group).ok() == Some(VFIO_GROUP_FLAGS_VIABLE),
        &format!("{path} ({bdf}) is exactly VIABLE"),
    );
    let mut fd = container.as_raw_fd();
    tap.check(
        ioctl_ptr(&group, VFIO_GROUP_SET_CONTAINER, &mut fd).is_ok(),
        &format!("{path} joins the container"),
    );
    tap.check(
        group_flags(&group).ok() == Some(VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET),
        &format!("{path} reports VIABLE|CONTAINER_SET"),
    );
}
