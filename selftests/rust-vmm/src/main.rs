// SPDX-License-Identifier: GPL-2.0

//! cloud-hypervisor's VFIO path, with rust-vmm's `vfio-ioctls` (feature `kvm`) unchanged:
//! a `VfioContainer` given the VM's kvm-vfio device, so that opening a device adds its group
//! to the VM (`KVM_DEV_VFIO_FILE_ADD`, which `vfio-ioctls` treats as fatal); then guest
//! memory mapped for DMA, the device used (edu's DMA engine copies through the mapping,
//! its MSI signals an eventfd), and everything torn down (the group deleted from the VM).
//!
//! Usage: `ch_vfio EDU_BDF`.

use std::fs;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;

use kvm_bindings::{
    kvm_create_device, kvm_device_attr, kvm_device_type_KVM_DEV_TYPE_VFIO, KVM_DEV_VFIO_FILE,
    KVM_DEV_VFIO_FILE_ADD,
};
use kvm_ioctls::Kvm;
use rvfio_selftests::Tap;
use vfio_ioctls::{VfioContainer, VfioDevice, VfioDeviceFd};
use vmm_sys_util::eventfd::EventFd;

/// edu's BAR0 registers (QEMU's docs/specs/edu.rst).
const EDU_REG_IRQ_STATUS: u64 = 0x24;
const EDU_REG_IRQ_ACK: u64 = 0x64;
const EDU_REG_DMA_SRC: u64 = 0x80;
const EDU_REG_DMA_DST: u64 = 0x88;
const EDU_REG_DMA_COUNT: u64 = 0x90;
const EDU_REG_DMA_CMD: u64 = 0x98;
const EDU_DMA_START: u64 = 0x1;
const EDU_DMA_TO_RAM: u64 = 0x2;
const EDU_DMA_IRQ: u64 = 0x4;
const EDU_DMA_DONE_IRQ: u32 = 0x100;
const EDU_DMA_BUF: u64 = 0x40000;

/// `VFIO_PCI_CONFIG_REGION_INDEX`, and the COMMAND register's bits.
const CONFIG_REGION: u32 = 7;
const PCI_COMMAND: u64 = 0x04;
const PCI_COMMAND_MEMORY: u16 = 0x2;
const PCI_COMMAND_MASTER: u16 = 0x4;

/// Where the "guest memory" goes in IOVA space (below edu's 28-bit DMA mask).
const GUEST_IOVA: u64 = 0x100_0000;
const GUEST_SIZE: usize = 2 << 20;
const PAGE: usize = 4096;

fn write64(dev: &VfioDevice, reg: u64, val: u64) {
    dev.region_write(0, &val.to_le_bytes(), reg);
}

fn read32(dev: &VfioDevice, reg: u64) -> u32 {
    let mut buf = [0u8; 4];
    dev.region_read(0, &mut buf, reg);
    u32::from_le_bytes(buf)
}

/// Runs one edu DMA of `count` bytes and waits (up to a second) for it to finish.
fn edu_dma(dev: &VfioDevice, src: u64, dst: u64, count: u64, cmd: u64) -> bool {
    write64(dev, EDU_REG_DMA_SRC, src);
    write64(dev, EDU_REG_DMA_DST, dst);
    write64(dev, EDU_REG_DMA_COUNT, count);
    write64(dev, EDU_REG_DMA_CMD, cmd | EDU_DMA_START);
    for _ in 0..1000 {
        let mut buf = [0u8; 8];
        dev.region_read(0, &mut buf, EDU_REG_DMA_CMD);
        if u64::from_le_bytes(buf) & EDU_DMA_START == 0 {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    false
}

/// The fd of this process's open `/dev/vfio/<group>`, found as cloud-hypervisor's own
/// code cannot: `vfio-ioctls` keeps it private.
fn group_fd(group: u32) -> Option<i32> {
    let want = format!("/dev/vfio/{group}");
    fs::read_dir("/proc/self/fd").ok()?.flatten().find_map(|e| {
        let target = fs::read_link(e.path()).ok()?;
        (target.to_str() == Some(&want)).then(|| e.file_name().to_str()?.parse().ok())?
    })
}

fn main() {
    let mut tap = Tap::default();
    let bdf = std::env::args().nth(1).expect("usage: ch_vfio EDU_BDF");
    let sysfs = format!("/sys/bus/pci/devices/{bdf}");
    let group: u32 = fs::read_link(format!("{sysfs}/iommu_group"))
        .ok()
        .and_then(|p| p.file_name()?.to_str()?.parse().ok())
        .expect("device has an IOMMU group");

    let kvm = Kvm::new().expect("open /dev/kvm");
    let vm = kvm.create_vm().expect("KVM_CREATE_VM");
    let mut create = kvm_create_device {
        type_: kvm_device_type_KVM_DEV_TYPE_VFIO,
        fd: 0,
        flags: 0,
    };
    let kvm_vfio = vm
        .create_device(&mut create)
        .expect("KVM_CREATE_DEVICE(VFIO)");
    let kvm_vfio_raw = kvm_vfio.as_raw_fd();

    let container = match VfioContainer::new(Some(Arc::new(VfioDeviceFd::new_from_kvm(kvm_vfio)))) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            tap.check(false, &format!("VfioContainer::new: {e:?}"));
            tap.finish();
        }
    };
    // Opens the group, sets the container and type1v2, adds the group to the VM.
    let device = match VfioDevice::new(Path::new(&sysfs), container.clone(), false) {
        Ok(d) => d,
        Err(e) => {
            tap.check(
                false,
                &format!("VfioDevice::new (group {group} added to the VM): {e:?}"),
            );
            tap.finish();
        }
    };
    tap.check(
        true,
        &format!("VfioDevice::new: group {group} joined the container and the VM"),
    );

    // The group really is in the VM: adding it again is -EEXIST.
    let gfd = group_fd(group);
    tap.check(gfd.is_some(), "the group's fd is open");
    if let Some(gfd) = gfd {
        let attr = kvm_device_attr {
            group: KVM_DEV_VFIO_FILE,
            attr: u64::from(KVM_DEV_VFIO_FILE_ADD),
            addr: &gfd as *const i32 as u64,
            flags: 0,
        };
        // SAFETY: KVM_SET_DEVICE_ATTR reads the attribute and, through `addr`, one i32.
        let ret = unsafe { libc::ioctl(kvm_vfio_raw, kvm_ioctls_set_device_attr(), &attr) };
        let errno = std::io::Error::last_os_error().raw_os_error();
        tap.check(
            ret == -1 && errno == Some(libc::EEXIST),
            &format!("adding the group to the VM again: -EEXIST (got {ret}, {errno:?})"),
        );
    }

    // Guest memory, mapped for DMA as cloud-hypervisor maps a VM's RAM.
    // SAFETY: A fresh anonymous mapping, only accessed through raw pointers below.
    let mem = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            GUEST_SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
            -1,
            0,
        )
    };
    assert_ne!(mem, libc::MAP_FAILED, "mmap guest memory");
    let mem = mem.cast::<u8>();
    // SAFETY: `mem` is ours and GUEST_SIZE long; no Rust reference to it exists (the
    // device may access it from here on).
    let mapped = unsafe { container.vfio_dma_map(GUEST_IOVA, GUEST_SIZE, mem) };
    tap.check(
        mapped.is_ok(),
        &format!("vfio_dma_map of {GUEST_SIZE} bytes: {mapped:?}"),
    );

    // edu copies a page from guest memory into its buffer and back to another page.
    for i in 0..PAGE {
        // SAFETY: Within the mapping; volatile, as the device shares it.
        unsafe { mem.add(i).write_volatile((i * 7 + 3) as u8) };
    }
    // What a guest driver does first: memory decode and bus mastering on, in the
    // (virtualised) COMMAND register.
    let mut command = [0u8; 2];
    device.region_read(CONFIG_REGION, &mut command, PCI_COMMAND);
    let command = u16::from_le_bytes(command) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
    device.region_write(CONFIG_REGION, &command.to_le_bytes(), PCI_COMMAND);
    let efd = EventFd::new(libc::EFD_NONBLOCK).expect("eventfd");
    tap.check(
        device.enable_msi(vec![&efd]).is_ok(),
        "MSI enabled with an eventfd",
    );
    let to_dev = edu_dma(&device, GUEST_IOVA, EDU_DMA_BUF, PAGE as u64, 0);
    let back = edu_dma(
        &device,
        EDU_DMA_BUF,
        GUEST_IOVA + PAGE as u64,
        PAGE as u64,
        EDU_DMA_TO_RAM | EDU_DMA_IRQ,
    );
    tap.check(to_dev && back, "edu DMA to and from guest memory completed");
    let same = (0..PAGE).all(|i| {
        // SAFETY: As above.
        unsafe { mem.add(PAGE + i).read_volatile() == (i * 7 + 3) as u8 }
    });
    tap.check(same, "the page came back through the device unchanged");
    let mut signalled = false;
    for _ in 0..1000 {
        if efd.read().is_ok() {
            signalled = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    tap.check(signalled, "the DMA-done MSI signalled the eventfd");
    tap.check(
        read32(&device, EDU_REG_IRQ_STATUS) & EDU_DMA_DONE_IRQ != 0,
        "edu reports the DMA-done interrupt",
    );
    device.region_write(0, &EDU_DMA_DONE_IRQ.to_le_bytes(), EDU_REG_IRQ_ACK);
    tap.check(device.disable_msi().is_ok(), "MSI disabled");

    let unmapped = container.vfio_dma_unmap(GUEST_IOVA, GUEST_SIZE);
    tap.check(unmapped.is_ok(), &format!("vfio_dma_unmap: {unmapped:?}"));
    // Dropping the device deletes the group from the VM and detaches it; vfio-ioctls only
    // logs failures there, so look: the group fd is closed and the node opens again.
    drop(device);
    drop(container);
    tap.check(
        group_fd(group).is_none(),
        "the group fd is closed after the device went",
    );
    let reopened = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(format!("/dev/vfio/{group}"));
    tap.check(
        reopened.is_ok(),
        &format!(
            "the group reopens once the VM let it go: {:?}",
            reopened.err()
        ),
    );
    // SAFETY: Unmapped once; the device no longer maps it.
    unsafe { libc::munmap(mem.cast(), GUEST_SIZE) };
    tap.finish();
}

/// `KVM_SET_DEVICE_ATTR`, `_IOW(KVMIO, 0xe1, struct kvm_device_attr)`.
const fn kvm_ioctls_set_device_attr() -> libc::c_ulong {
    const KVMIO: libc::c_ulong = 0xae;
    const IOC_WRITE: libc::c_ulong = 1;
    let size = std::mem::size_of::<kvm_device_attr>() as libc::c_ulong;
    (IOC_WRITE << 30) | (size << 16) | (KVMIO << 8) | 0xe1
}
