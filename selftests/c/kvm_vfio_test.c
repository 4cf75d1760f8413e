// SPDX-License-Identifier: GPL-2.0
/*
 * KVM's kvm-vfio device (virt/kvm/vfio.c) with VFIO files: KVM_DEV_VFIO_FILE_ADD/DEL of
 * group fds, device fds and other files, with upstream's answers; a group file KVM holds
 * stays held (its node cannot be reopened, the module stays referenced) until the VM goes;
 * a device opened while its group is added to a VM keeps that VM alive until its last
 * close (upstream's device->kvm reference), a device opened before does not; so does a
 * device bound through its cdev while the cdev file is in the VM.
 *
 * KVM finds VFIO through symbol_get() of vfio_file_is_valid() and friends: without them
 * every ADD is -EINVAL. Whether a VM still exists is seen in KVM's debugfs, which has a
 * directory "<pid>-<vm fd>" per VM. Needs edu bound to vfio-pci (RVFIO_EDU_BDF) and
 * /dev/kvm. Uses only the uAPI, so it runs unchanged on upstream's modules.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kvm.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfio_cdev_util.h"
#include "vfio_pci_util.h"

/* KVM_SET_DEVICE_ATTR(KVM_DEV_VFIO_FILE, @attr) with @fd: 0 or -errno. */
static int vfio_file_op(int kvm_dev, __u64 attr, int fd)
{
	__s32 file = fd;
	struct kvm_device_attr a = {
		.group = KVM_DEV_VFIO_FILE,
		.attr = attr,
		.addr = (__u64)(uintptr_t)&file,
	};

	return ioctl(kvm_dev, KVM_SET_DEVICE_ATTR, &a) ? -errno : 0;
}

static int file_add(int kvm_dev, int fd)
{
	return vfio_file_op(kvm_dev, KVM_DEV_VFIO_FILE_ADD, fd);
}

static int file_del(int kvm_dev, int fd)
{
	return vfio_file_op(kvm_dev, KVM_DEV_VFIO_FILE_DEL, fd);
}

/* Whether the VM this process created at fd @vm_fd still exists (KVM's debugfs). */
static int vm_exists(int vm_fd)
{
	char path[96];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%d-%d", getpid(), vm_fd);
	return stat(path, &st) == 0;
}

static long module_refcnt(const char *name)
{
	char path[96], buf[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/%s/refcnt", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return buf[0] ? atol(buf) : -1;
}

FIXTURE(kvm_vfio) {
	const char *bdf;
	char group_path[64];
	int kvm, vm, dev;
	struct vfio_pci_dev edu;
};

FIXTURE_SETUP(kvm_vfio)
{
	struct kvm_create_device create = { .type = KVM_DEV_TYPE_VFIO };

	self->bdf = test_bdf("RVFIO_EDU_BDF");
	ASSERT_NE(NULL, self->bdf);
	snprintf(self->group_path, sizeof(self->group_path), "/dev/vfio/%d",
		 iommu_group_of(self->bdf));
	self->kvm = open("/dev/kvm", O_RDWR);
	ASSERT_LE(0, self->kvm) TH_LOG("/dev/kvm: %s", strerror(errno));
	self->vm = ioctl(self->kvm, KVM_CREATE_VM, 0);
	ASSERT_LE(0, self->vm) TH_LOG("KVM_CREATE_VM: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(self->vm, KVM_CREATE_DEVICE, &create));
	self->dev = create.fd;
	ASSERT_TRUE(vm_exists(self->vm));
	ASSERT_EQ(0, vfio_pci_open(&self->edu, self->bdf, VFIO_TYPE1v2_IOMMU));
}

FIXTURE_TEARDOWN(kvm_vfio)
{
	if (self->dev >= 0)
		close(self->dev);
	if (self->vm >= 0)
		close(self->vm);
	close(self->kvm);
	vfio_pci_close(&self->edu);
}

/* Closes the VM's fds: the VM goes unless something else holds it. */
static void close_vm(struct _test_data_kvm_vfio *self)
{
	close(self->dev);
	close(self->vm);
	self->dev = self->vm = -1;
}

TEST_F(kvm_vfio, add_del_group)
{
	EXPECT_EQ(0, file_add(self->dev, self->edu.group));
	EXPECT_EQ(-EEXIST, file_add(self->dev, self->edu.group));
	EXPECT_EQ(0, file_del(self->dev, self->edu.group));
	EXPECT_EQ(-ENOENT, file_del(self->dev, self->edu.group));
	/* And again after a DEL. */
	EXPECT_EQ(0, file_add(self->dev, self->edu.group));
	EXPECT_EQ(0, file_del(self->dev, self->edu.group));
}

/* Upstream 7.3 takes a device fd too (vfio_file_is_valid() accepts device files). */
TEST_F(kvm_vfio, add_del_device_fd)
{
	EXPECT_EQ(0, file_add(self->dev, self->edu.fd));
	EXPECT_EQ(-EEXIST, file_add(self->dev, self->edu.fd));
	/* Group and device of it side by side. */
	EXPECT_EQ(0, file_add(self->dev, self->edu.group));
	EXPECT_EQ(0, file_del(self->dev, self->edu.fd));
	EXPECT_EQ(0, file_del(self->dev, self->edu.group));
}

TEST_F(kvm_vfio, add_rejects_other_files)
{
	int efd = eventfd(0, EFD_CLOEXEC), devnull = open("/dev/null", O_RDWR);

	ASSERT_LE(0, efd);
	EXPECT_EQ(-EINVAL, file_add(self->dev, efd));
	EXPECT_EQ(-EINVAL, file_add(self->dev, devnull));
	/* The container is not a file KVM can use. */
	EXPECT_EQ(-EINVAL, file_add(self->dev, self->edu.container));
	EXPECT_EQ(-EBADF, file_add(self->dev, -1));
	EXPECT_EQ(-EBADF, file_add(self->dev, 1000));
	close(efd);
	close(devnull);
}

TEST_F(kvm_vfio, del_of_file_never_added)
{
	int efd = eventfd(0, EFD_CLOEXEC);

	EXPECT_EQ(-ENOENT, file_del(self->dev, self->edu.group));
	EXPECT_EQ(-ENOENT, file_del(self->dev, self->edu.fd));
	EXPECT_EQ(-ENOENT, file_del(self->dev, efd));
	EXPECT_EQ(-EBADF, file_del(self->dev, -1));
	close(efd);
}

/* The group file KVM holds stays open after the user closed it, module referenced, until
 * the VM is destroyed. */
TEST_F(kvm_vfio, group_held_until_vm_destroyed)
{
	long held, released;
	int again, vm = self->vm;

	ASSERT_EQ(0, file_add(self->dev, self->edu.group));
	vfio_pci_close(&self->edu);
	again = open(self->group_path, O_RDWR);
	EXPECT_EQ(-1, again);
	EXPECT_EQ(EBUSY, errno);
	held = module_refcnt("vfio");
	close_vm(self);
	EXPECT_FALSE(vm_exists(vm));
	again = open(self->group_path, O_RDWR);
	ASSERT_LE(0, again) TH_LOG("reopen after the VM went: %s", strerror(errno));
	close(again);
	released = module_refcnt("vfio");
	EXPECT_LT(released, held) TH_LOG("vfio refcnt held %ld, released %ld", held, released);
	/* And usable afresh. */
	ASSERT_EQ(0, vfio_pci_open(&self->edu, self->bdf, VFIO_TYPE1v2_IOMMU));
}

/* A device whose first fd opens while its group is added to a VM holds the VM until its
 * last close. */
TEST_F(kvm_vfio, device_opened_in_vm_holds_it)
{
	int vm = self->vm, fd;

	ASSERT_EQ(0, file_add(self->dev, self->edu.group));
	close(self->edu.fd);
	self->edu.fd = ioctl(self->edu.group, VFIO_GROUP_GET_DEVICE_FD, self->bdf);
	ASSERT_LE(0, self->edu.fd);
	/* A second fd of the open device changes nothing. */
	fd = ioctl(self->edu.group, VFIO_GROUP_GET_DEVICE_FD, self->bdf);
	ASSERT_LE(0, fd);
	close_vm(self);
	EXPECT_TRUE(vm_exists(vm)) TH_LOG("the VM went although its device is open");
	close(fd);
	EXPECT_TRUE(vm_exists(vm));
	close(self->edu.fd);
	self->edu.fd = -1;
	EXPECT_FALSE(vm_exists(vm)) TH_LOG("the VM stayed after its device's last close");
	/* The VM's release gave the group back to its only holder, the user. */
	EXPECT_EQ(-1, open(self->group_path, O_RDWR));
	EXPECT_EQ(EBUSY, errno);
	self->edu.fd = ioctl(self->edu.group, VFIO_GROUP_GET_DEVICE_FD, self->bdf);
	ASSERT_LE(0, self->edu.fd);
}

/* A device open before its group was added takes no reference: the VM goes with its fds. */
TEST_F(kvm_vfio, device_opened_before_does_not_hold_it)
{
	int vm = self->vm;

	ASSERT_EQ(0, file_add(self->dev, self->edu.group));
	close_vm(self);
	EXPECT_FALSE(vm_exists(vm));
	/* The device still works. */
	EXPECT_EQ(0x1234, cfg_read(self->edu.fd, 0, 2));
}

/* A VM that deleted the group before its devices opened has nothing to hold. */
TEST_F(kvm_vfio, deleted_group_gives_no_vm)
{
	int vm = self->vm;

	ASSERT_EQ(0, file_add(self->dev, self->edu.group));
	ASSERT_EQ(0, file_del(self->dev, self->edu.group));
	close(self->edu.fd);
	self->edu.fd = ioctl(self->edu.group, VFIO_GROUP_GET_DEVICE_FD, self->bdf);
	ASSERT_LE(0, self->edu.fd);
	close_vm(self);
	EXPECT_FALSE(vm_exists(vm));
}

/*
 * A device cdev file (igb's, RVFIO_IGB_BDF) is a VFIO file KVM takes, bound or not; bound
 * while in the VM, the device holds the VM until the file closes. Skips without iommufd.
 */
TEST_F(kvm_vfio, cdev_in_vm)
{
	const char *igb = test_bdf("RVFIO_IGB_BDF");
	int vm = self->vm, iommufd, fd;

	ASSERT_NE(NULL, igb);
	iommufd = open("/dev/iommu", O_RDWR);
	if (iommufd < 0)
		SKIP(return, "no /dev/iommu: no device cdevs");
	fd = open_cdev(igb);
	ASSERT_LE(0, fd) TH_LOG("igb's cdev: %s", strerror(errno));

	EXPECT_EQ(0, file_add(self->dev, fd));
	EXPECT_EQ(-EEXIST, file_add(self->dev, fd));
	ASSERT_EQ(0, cdev_bind(fd, iommufd, NULL));
	EXPECT_EQ(0, file_del(self->dev, fd));
	EXPECT_EQ(-ENOENT, file_del(self->dev, fd));
	close_vm(self);
	EXPECT_TRUE(vm_exists(vm)) TH_LOG("the VM went although its device is bound");
	close(fd);
	EXPECT_FALSE(vm_exists(vm)) TH_LOG("the VM stayed after its device's file closed");
	close(iommufd);
}

TEST_HARNESS_MAIN
