// SPDX-License-Identifier: GPL-2.0
/*
 * Static inlines and macros that vfio-pci.ko's Rust wrappers need and 7.3's bindings lack
 * (rust/kernel_ext/pci_raw.rs, pfn_mmap.rs). Field accesses of VMAs and faults stay in C so
 * that no Rust code depends on bindgen's view of these structures.
 */
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/workqueue.h>
#include <linux/pci.h>
#include <linux/slab.h>

struct pci_dev *rvfio_pci_upstream_bridge(struct pci_dev *pdev);
void rvfio_vma_describe(const struct vm_area_struct *vma, unsigned long *start,
			unsigned long *end, unsigned long *pgoff, bool *shared);
void rvfio_vma_set_pfnmap(struct vm_area_struct *vma,
			  const struct vm_operations_struct *ops, void *private);
void *rvfio_vmf_private(const struct vm_fault *vmf);
unsigned long rvfio_vmf_pgoff(const struct vm_fault *vmf);
vm_fault_t rvfio_vmf_insert_pfn(struct vm_fault *vmf, unsigned long pfn);

struct pci_dev *rvfio_pci_upstream_bridge(struct pci_dev *pdev)
{
	return pci_upstream_bridge(pdev);
}

/* What an mmap() request asks for: its range, file page offset and sharing. */
void rvfio_vma_describe(const struct vm_area_struct *vma, unsigned long *start,
			unsigned long *end, unsigned long *pgoff, bool *shared)
{
	*start = vma->vm_start;
	*end = vma->vm_end;
	*pgoff = vma->vm_pgoff;
	*shared = vma->vm_flags & VM_SHARED;
}

/*
 * Make @vma an uncached, lazily faulted PFN mapping served by @ops with @private, with the
 * flags and protections io_remap_pfn_range() would have set (as upstream vfio-pci).
 */
void rvfio_vma_set_pfnmap(struct vm_area_struct *vma,
			  const struct vm_operations_struct *ops, void *private)
{
	vma->vm_private_data = private;
	vma->vm_page_prot = pgprot_noncached(vma->vm_page_prot);
	vma->vm_page_prot = pgprot_decrypted(vma->vm_page_prot);
	vm_flags_set(vma, VM_ALLOW_ANY_UNCACHED | VM_IO | VM_PFNMAP |
			  VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_ops = ops;
}

void *rvfio_vmf_private(const struct vm_fault *vmf)
{
	return vmf->vma->vm_private_data;
}

/* The file page offset of the faulting address. */
unsigned long rvfio_vmf_pgoff(const struct vm_fault *vmf)
{
	return vmf->pgoff;
}

vm_fault_t rvfio_vmf_insert_pfn(struct vm_fault *vmf, unsigned long pfn)
{
	return vmf_insert_pfn(vmf->vma, vmf->address, pfn);
}

/* SR-IOV: the bitfields and inlines of struct pci_dev that vfio-pci needs. */
bool rvfio_pci_is_virtfn(struct pci_dev *pdev);
bool rvfio_pci_is_physfn(struct pci_dev *pdev);
struct pci_dev *rvfio_pci_physfn(struct pci_dev *pdev);

bool rvfio_pci_is_virtfn(struct pci_dev *pdev)
{
	return pdev->is_virtfn;
}

bool rvfio_pci_is_physfn(struct pci_dev *pdev)
{
	return pdev->is_physfn;
}

struct pci_dev *rvfio_pci_physfn(struct pci_dev *pdev)
{
	return pci_physfn(pdev);
}

/*
 * While a PF is bound to vfio-pci, its new VFs get driver_override "vfio-pci", so they bind
 * to vfio-pci rather than to their native driver (upstream's vfio_pci_bus_notifier).
 */
struct rvfio_vf_capture {
	struct notifier_block nb;
	struct pci_dev *pf;
};

struct rvfio_vf_capture *rvfio_vf_capture_start(struct pci_dev *pf);
void rvfio_vf_capture_stop(struct rvfio_vf_capture *capture);

static int rvfio_vf_capture_notify(struct notifier_block *nb, unsigned long action,
				   void *data)
{
	struct rvfio_vf_capture *capture = container_of(nb, struct rvfio_vf_capture, nb);
	struct pci_dev *pdev = to_pci_dev(data);

	if (action == BUS_NOTIFY_ADD_DEVICE && pdev->is_virtfn &&
	    pci_physfn(pdev) == capture->pf) {
		pci_info(capture->pf, "Captured SR-IOV VF %s driver_override\n", pci_name(pdev));
		WARN_ON(device_set_driver_override(&pdev->dev, "vfio-pci"));
	}
	return NOTIFY_OK;
}

struct rvfio_vf_capture *rvfio_vf_capture_start(struct pci_dev *pf)
{
	struct rvfio_vf_capture *capture = kzalloc(sizeof(*capture), GFP_KERNEL);
	int ret;

	if (!capture)
		return ERR_PTR(-ENOMEM);
	capture->pf = pf;
	capture->nb.notifier_call = rvfio_vf_capture_notify;
	ret = bus_register_notifier(&pci_bus_type, &capture->nb);
	if (ret) {
		kfree(capture);
		return ERR_PTR(ret);
	}
	return capture;
}

void rvfio_vf_capture_stop(struct rvfio_vf_capture *capture)
{
	bus_unregister_notifier(&pci_bus_type, &capture->nb);
	kfree(capture);
}

/*
 * An eventfd whose signals run a callback in process context: the INTx unmask eventfd
 * (KVM's resamplefd), upstream's virqfd. Wait-queue entries and poll tables are static
 * inlines and macros, hence C; rust/kernel_ext/eventfd.rs wraps it. The eventfd context
 * is referenced until the free; once its file is released (EPOLLHUP) the virqfd is dead
 * (upstream's deactivates itself then): it fires no more and rvfio_virqfd_closed() says so.
 */
struct rvfio_virqfd {
	struct eventfd_ctx *eventfd;
	wait_queue_entry_t wait;
	poll_table pt;
	struct work_struct work;
	void (*fire)(void *data);
	void *data;
	bool closed;
};

struct rvfio_virqfd *rvfio_virqfd_new(int fd, void (*fire)(void *data), void *data);
void rvfio_virqfd_free(struct rvfio_virqfd *virqfd);
bool rvfio_virqfd_closed(struct rvfio_virqfd *virqfd);

static void rvfio_virqfd_work(struct work_struct *work)
{
	struct rvfio_virqfd *virqfd = container_of(work, struct rvfio_virqfd, work);

	virqfd->fire(virqfd->data);
}

static int rvfio_virqfd_wakeup(wait_queue_entry_t *wait, unsigned int mode, int sync,
			       void *key)
{
	struct rvfio_virqfd *virqfd = container_of(wait, struct rvfio_virqfd, wait);

	/* Under the eventfd's wait-queue lock, as every wakeup. */
	if (key_to_poll(key) & EPOLLHUP)
		WRITE_ONCE(virqfd->closed, true);
	if ((key_to_poll(key) & EPOLLIN) && !READ_ONCE(virqfd->closed)) {
		u64 count;

		eventfd_ctx_do_read(virqfd->eventfd, &count);
		schedule_work(&virqfd->work);
	}
	return 0;
}

static void rvfio_virqfd_queue(struct file *file, wait_queue_head_t *wqh, poll_table *pt)
{
	struct rvfio_virqfd *virqfd = container_of(pt, struct rvfio_virqfd, pt);

	add_wait_queue(wqh, &virqfd->wait);
}

struct rvfio_virqfd *rvfio_virqfd_new(int fd, void (*fire)(void *data), void *data)
{
	struct rvfio_virqfd *virqfd;
	struct eventfd_ctx *ctx;
	__poll_t events;
	CLASS(fd, file)(fd);

	if (fd_empty(file))
		return ERR_PTR(-EBADF);
	ctx = eventfd_ctx_fileget(fd_file(file));
	if (IS_ERR(ctx))
		return ERR_CAST(ctx);
	virqfd = kzalloc(sizeof(*virqfd), GFP_KERNEL);
	if (!virqfd) {
		eventfd_ctx_put(ctx);
		return ERR_PTR(-ENOMEM);
	}
	virqfd->eventfd = ctx;
	virqfd->fire = fire;
	virqfd->data = data;
	INIT_WORK(&virqfd->work, rvfio_virqfd_work);
	init_waitqueue_func_entry(&virqfd->wait, rvfio_virqfd_wakeup);
	init_poll_funcptr(&virqfd->pt, rvfio_virqfd_queue);
	events = vfs_poll(fd_file(file), &virqfd->pt);
	/* Signalled before we were listening: act on it now. */
	if (events & EPOLLIN)
		schedule_work(&virqfd->work);
	return virqfd;
}

/* Whether the eventfd's file has been released (the virqfd then never fires again). */
bool rvfio_virqfd_closed(struct rvfio_virqfd *virqfd)
{
	return READ_ONCE(virqfd->closed);
}

void rvfio_virqfd_free(struct rvfio_virqfd *virqfd)
{
	u64 count;

	eventfd_ctx_remove_wait_queue(virqfd->eventfd, &virqfd->wait, &count);
	cancel_work_sync(&virqfd->work);
	eventfd_ctx_put(virqfd->eventfd);
	kfree(virqfd);
}
