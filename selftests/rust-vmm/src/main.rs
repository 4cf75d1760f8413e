// SPDX-License-Identifier: GPL-2.0

//! cloud-hypervisor's VFIO path, with rust-vmm's `vfio-ioctls` (features `kvm` and
//! `vfio_cdev`) unchanged: a `VfioContainer` given the VM's kvm-vfio device, so that opening
//! a device adds its group to the VM (`KVM_DEV_VFIO_FILE_ADD`, which `vfio-ioctls` treats as
//! fatal); or with `--cdev` a `VfioIommufd`, so that the device's cdev is added to the VM,
//! bound to `/dev/iommu` and attached to an IOAS. Then guest memory mapped for DMA, the device
//! used (edu's DMA engine copies through the mapping, its MSI signals an eventfd), and
//! everything torn down (the group or cdev deleted from the VM, the device free again).
//!
//! Usage: `ch_vfio EDU_BDF [--cdev]`.

use std::fs;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;

use iommufd_ioctls::IommuFd;
use kvm_bindings::{
    kvm_create_device, kvm_device_attr, kvm_device_type_KVM_DEV_TYPE_VFIO, KVM_DEV_VFIO_FILE,
    KVM_DEV_VFIO_FILE_ADD,
};
use kvm_ioctls::Kvm;
use rvfio_selftests::Tap;
use vfio_ioctls::{VfioContainer, VfioDevice, VfioDeviceFd, VfioIommufd, VfioOps};
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
    fd_of(&format!("/dev/vfio/{group}"))
}

/// The fd of this process's open file `want`, if any.
fn fd_of(want: &str) -> Option<i32> {
    fs::read_dir("/proc/self/fd").ok()?.flatten().find_map(|e| {
        let target = fs::read_link(e.path()).ok()?;
        (target.to_str() == Some(want)).then(|| e.file_name().to_str()?.parse().ok())?
    })
}

/// `/dev/vfio/devices/vfioN` of the device at `sysfs`.
fn cdev_path(sysfs: &str) -> Option<String> {
    fs::read_dir(format!("{sysfs}/vfio-dev"))
        .ok()?
        .flatten()
        .find_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.starts_with("vfio")
                .then(|| format!("/dev/vfio/devices/{name}"))
        })
}

/// Whether KVM holds `fd` in its kvm-vfio device `kvm_vfio`: adding it again is -EEXIST.
fn in_vm(kvm_vfio: i32, fd: i32) -> (bool, String) {
    let attr = kvm_device_attr {
        group: KVM_DEV_VFIO_FILE,
        attr: u64::from(KVM_DEV_VFIO_FILE_ADD),
        addr: &fd as *const i32 as u64,
        flags: 0,
    };
    // SAFETY: KVM_SET_DEVICE_ATTR reads the attribute and, through `addr`, one i32.
    let ret = unsafe { libc::ioctl(kvm_vfio, kvm_ioctls_set_device_attr(), &attr) };
    let errno = std::io::Error::last_os_error().raw_os_error();
    (
        ret == -1 && errno == Some(libc::EEXIST),
        format!("got {ret}, {errno:?}"),
    )
}

/// What maps guest memory for the device: a container, or an iommufd's IOAS.
enum Backend {
    Container(Arc<VfioContainer>),
    Iommufd(Arc<VfioIommufd>),
}

impl Backend {
    fn ops(&self) -> Arc<dyn VfioOps> {
        match self {
            Backend::Container(c) => c.clone(),
            Backend::Iommufd(i) => i.clone(),
        }
    }
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

    let cdev = std::env::args().nth(2).as_deref() == Some("--cdev");
    let handle = Some(Arc::new(VfioDeviceFd::new_from_kvm(kvm_vfio)));
    let backend = if cdev {
        let iommufd = match IommuFd::new() {
            Ok(i) => Arc::new(i),
            Err(e) => {
                tap.check(false, &format!("IommuFd::new: {e:?}"));
                tap.finish();
            }
        };
        VfioIommufd::new(iommufd, None, handle).map(|i| Backend::Iommufd(Arc::new(i)))
    } else {
        VfioContainer::new(handle).map(|c| Backend::Container(Arc::new(c)))
    };
    let backend = match backend {
        Ok(b) => b,
        Err(e) => {
            tap.check(false, &format!("VfioContainer/VfioIommufd::new: {e:?}"));
            tap.finish();
        }
    };
    // Opens the group, sets the container and type1v2, adds the group to the VM; or opens
    // the cdev, adds it to the VM, binds it to the iommufd and attaches it to the IOAS.
    let device = match VfioDevice::new(Path::new(&sysfs), backend.ops(), true) {
        Ok(d) => d,
        Err(e) => {
            tap.check(false, &format!("VfioDevice::new (added to the VM): {e:?}"));
            tap.finish();
        }
    };
    let cdev_file = cdev_path(&sysfs);
    let (what, fd) = match &backend {
        Backend::Container(_) => (format!("group {group}"), group_fd(group)),
        Backend::Iommufd(_) => {
            let path = cdev_file.clone().unwrap_or_default();
            (format!("cdev {path}"), fd_of(&path))
        }
    };
    tap.check(
        true,
        &format!("VfioDevice::new: {what} set up and added to the VM"),
    );
    if let Backend::Iommufd(_) = &backend {
        tap.check(
            device.iommufd_dev_id().is_some_and(|id| id > 0),
            &format!("the cdev is bound: device id {:?}", device.iommufd_dev_id()),
        );
    }

    // The file really is in the VM: adding it again is -EEXIST.
    tap.check(fd.is_some(), &format!("the {what} fd is open"));
    if let Some(fd) = fd {
        let (held, got) = in_vm(kvm_vfio_raw, fd);
        tap.check(
            held,
            &format!("adding the {what} to the VM again: -EEXIST ({got})"),
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
    let mapped = unsafe {
        match &backend {
            Backend::Container(c) => c.vfio_dma_map(GUEST_IOVA, GUEST_SIZE, mem),
            Backend::Iommufd(i) => i.vfio_dma_map(GUEST_IOVA, GUEST_SIZE, mem),
        }
    };
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

    let unmapped = match &backend {
        Backend::Container(c) => c.vfio_dma_unmap(GUEST_IOVA, GUEST_SIZE),
        Backend::Iommufd(i) => i.vfio_dma_unmap(GUEST_IOVA, GUEST_SIZE),
    };
    tap.check(unmapped.is_ok(), &format!("vfio_dma_unmap: {unmapped:?}"));
    // Dropping the device deletes its file from the VM (and detaches the group, or the cdev
    // from its IOAS); vfio-ioctls only logs or panics on failures there, so look: the file is
    // closed, and the device is free for a new user.
    drop(device);
    drop(backend);
    match cdev_file {
        Some(path) if cdev => {
            tap.check(
                fd_of(&path).is_none(),
                "the cdev fd is closed after the device went",
            );
            let rebound = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .and_then(|f| {
                    Ok((
                        f,
                        IommuFd::new().map_err(|_| std::io::Error::other("iommufd"))?,
                    ))
                })
                .map(|(f, i)| bind(f.as_raw_fd(), i.as_raw_fd()));
            tap.check(
                matches!(rebound, Ok(0)),
                &format!("the cdev binds afresh once the VM let it go: {rebound:?}"),
            );
        }
        _ => {
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
        }
    }
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

/// `VFIO_DEVICE_BIND_IOMMUFD` of the cdev `fd` to `iommufd`: 0 or the errno.
fn bind(fd: i32, iommufd: i32) -> i32 {
    /// `struct vfio_device_bind_iommufd`.
    #[repr(C)]
    struct Bind {
        argsz: u32,
        flags: u32,
        iommufd: i32,
        out_devid: u32,
        token_uuid_ptr: u64,
    }
    let mut bind = Bind {
        argsz: std::mem::size_of::<Bind>() as u32,
        flags: 0,
        iommufd,
        out_devid: 0,
        token_uuid_ptr: 0,
    };
    /// `_IO(VFIO_TYPE, VFIO_BASE + 18)`.
    const VFIO_DEVICE_BIND_IOMMUFD: libc::c_ulong = (b';' as libc::c_ulong) << 8 | (100 + 18);
    // SAFETY: The ioctl reads and writes the structure, which lives for the call.
    let ret = unsafe { libc::ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &mut bind) };
    if ret == 0 {
        0
    } else {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    }
}
