// SPDX-License-Identifier: GPL-2.0
/*
 * One inode per registered device on a private pseudo filesystem, as upstream's
 * vfio_main.c has. Every fd of a device maps through that inode's address_space, so a bus
 * driver can revoke all mmaps of the device at once with unmap_mapping_range() when its
 * BARs become unreachable (reset, memory decode off, low power).
 *
 * A pseudo filesystem needs a file_system_type with an init_fs_context callback, which
 * 7.3's Rust cannot declare; this is that glue and nothing more. Its only user is
 * rust/kernel_ext/fs/device_inode.rs.
 */
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pseudo_fs.h>

#define RVFIO_FS_MAGIC 0x5646494f /* "VFIO", as upstream */

static struct vfsmount *rvfio_fs_mount;
static int rvfio_fs_users;

static int rvfio_fs_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, RVFIO_FS_MAGIC) ? 0 : -ENOMEM;
}

static struct file_system_type rvfio_fs_type = {
	.name = "vfio",
	.owner = THIS_MODULE,
	.init_fs_context = rvfio_fs_init_fs_context,
	.kill_sb = kill_anon_super,
};

struct inode *rvfio_device_inode_new(void);
void rvfio_device_inode_put(struct inode *inode);
void rvfio_device_inode_attach(struct inode *inode, struct file *file);
void rvfio_device_inode_unmap(struct inode *inode, loff_t start, loff_t len);

/* A fresh inode (ERR_PTR on failure); pins the pseudo filesystem until the put. */
struct inode *rvfio_device_inode_new(void)
{
	struct inode *inode;
	int ret;

	ret = simple_pin_fs(&rvfio_fs_type, &rvfio_fs_mount, &rvfio_fs_users);
	if (ret)
		return ERR_PTR(ret);
	inode = alloc_anon_inode(rvfio_fs_mount->mnt_sb);
	if (IS_ERR(inode))
		simple_release_fs(&rvfio_fs_mount, &rvfio_fs_users);
	return inode;
}

void rvfio_device_inode_put(struct inode *inode)
{
	iput(inode);
	simple_release_fs(&rvfio_fs_mount, &rvfio_fs_users);
}

/* Make @file's mmaps live in @inode's address_space (before the file is installed). */
void rvfio_device_inode_attach(struct inode *inode, struct file *file)
{
	file->f_mapping = inode->i_mapping;
}

/* Zap every user mapping of file offsets [start, start + len) (len 0: to the end). */
void rvfio_device_inode_unmap(struct inode *inode, loff_t start, loff_t len)
{
	unmap_mapping_range(inode->i_mapping, start, len, true);
}
