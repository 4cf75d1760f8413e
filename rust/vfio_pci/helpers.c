// SPDX-License-Identifier: GPL-2.0
/*
 * Static inlines and macros that vfio-pci.ko's Rust wrappers need and 7.3's bindings lack
 * (rust/kernel_ext/pci_raw.rs, pfn_mmap.rs). Field accesses of VMAs and faults stay in C so
 * that no Rust code depends on bindgen's view of these structures.
 */
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/iommu.h>
#include <linux/irqbypass.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/pm_runtime.h>
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

bool rvfio_pci_intx_mask_supported(struct pci_dev *pdev);

bool rvfio_pci_intx_mask_supported(struct pci_dev *pdev)
{
	return pci_intx_mask_supported(pdev);
}

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

/*
 * IRQ bypass producers (rust/kernel_ext/eventfd.rs): an MSI/MSI-X vector's Linux IRQ
 * announced under its eventfd, so that a consumer of the same eventfd (KVM's irqfd) can
 * take the interrupt without the eventfd (posted interrupts), as upstream's
 * vfio_msi_set_vector_signal(). The producer is allocated here so that no Rust code
 * depends on the structure's layout. Without the bypass manager there is no consumer to
 * pair with either (KVM selects it): NULL, no producer.
 */
struct irq_bypass_producer *rvfio_irq_bypass_register(struct eventfd_ctx *trigger, int irq);
void rvfio_irq_bypass_unregister(struct irq_bypass_producer *producer);

struct irq_bypass_producer *rvfio_irq_bypass_register(struct eventfd_ctx *trigger, int irq)
{
#if IS_ENABLED(CONFIG_IRQ_BYPASS_MANAGER)
	struct irq_bypass_producer *producer;
	int ret;

	producer = kzalloc(sizeof(*producer), GFP_KERNEL_ACCOUNT);
	if (!producer)
		return ERR_PTR(-ENOMEM);
	ret = irq_bypass_register_producer(producer, trigger, irq);
	if (ret) {
		kfree(producer);
		return ERR_PTR(ret);
	}
	return producer;
#else
	return NULL;
#endif
}

void rvfio_irq_bypass_unregister(struct irq_bypass_producer *producer)
{
#if IS_ENABLED(CONFIG_IRQ_BYPASS_MANAGER)
	irq_bypass_unregister_producer(producer);
	kfree(producer);
#endif
}

/*
 * Slot and bus resets (VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, VFIO_DEVICE_PCI_HOT_RESET):
 * which reset reaches a function, the functions it reaches, and the key of the set of
 * vfio-pci devices sharing it (upstream's dev_set). rust/kernel_ext/pci_raw.rs wraps them.
 */
int rvfio_pci_reset_scope(struct pci_dev *pdev);
int rvfio_pci_walk_reset_scope(struct pci_dev *pdev, bool slot,
			       int (*fn)(struct pci_dev *pdev, void *data), void *data);
const void *rvfio_pci_dev_set_key(struct pci_dev *pdev);
void rvfio_pci_location(struct pci_dev *pdev, u16 *segment, u8 *bus, u8 *devfn);
int rvfio_pci_iommu_group_id(struct pci_dev *pdev);

/* 1: a slot reset reaches @pdev, 0: a bus reset does, -ENODEV: neither. */
int rvfio_pci_reset_scope(struct pci_dev *pdev)
{
	if (!pci_probe_reset_slot(pdev->slot))
		return 1;
	return pci_probe_reset_bus(pdev->bus) ? -ENODEV : 0;
}

/* Whether @pdev sits in @slot, or below a bridge that does. */
static bool rvfio_pci_in_slot(struct pci_dev *pdev, struct pci_slot *slot)
{
	for (; pdev; pdev = pdev->bus->self) {
		if (pdev->bus == slot->bus)
			return pdev->slot == slot;
	}
	return false;
}

struct rvfio_pci_scope_walk {
	struct pci_slot *slot;
	int (*fn)(struct pci_dev *pdev, void *data);
	void *data;
	int ret;
};

static int rvfio_pci_scope_visit(struct pci_dev *pdev, void *data)
{
	struct rvfio_pci_scope_walk *walk = data;

	if (walk->slot && !rvfio_pci_in_slot(pdev, walk->slot))
		return 0;
	/* pci_walk_bus() stops at a non-zero return without passing it on: keep it. */
	walk->ret = walk->fn(pdev, walk->data);
	return walk->ret;
}

/*
 * Calls @fn for every function on and below @pdev's bus (@slot: only those in @pdev's
 * slot), stopping at the first non-zero return, which is returned. Runs under pci_bus_sem.
 */
int rvfio_pci_walk_reset_scope(struct pci_dev *pdev, bool slot,
			       int (*fn)(struct pci_dev *pdev, void *data), void *data)
{
	struct rvfio_pci_scope_walk walk = {
		.slot = slot ? pdev->slot : NULL,
		.fn = fn,
		.data = data,
	};

	if (slot && !pdev->slot)
		return -ENODEV;
	pci_walk_bus(pdev->bus, rvfio_pci_scope_visit, &walk);
	return walk.ret;
}

/*
 * What the functions sharing @pdev's reset have in common (upstream's dev_set): the
 * function itself on a root bus or for a VF, else its slot if a slot reset exists, else
 * its bus. Only compared, never dereferenced.
 */
const void *rvfio_pci_dev_set_key(struct pci_dev *pdev)
{
	if (pci_is_root_bus(pdev->bus) || pdev->is_virtfn)
		return pdev;
	if (!pci_probe_reset_slot(pdev->slot))
		return pdev->slot;
	return pdev->bus;
}

/* The PCI address of @pdev. */
void rvfio_pci_location(struct pci_dev *pdev, u16 *segment, u8 *bus, u8 *devfn)
{
	*segment = pci_domain_nr(pdev->bus);
	*bus = pdev->bus->number;
	*devfn = pdev->devfn;
}

/* The IOMMU group number of @pdev, or -ENODEV if it has none. */
int rvfio_pci_iommu_group_id(struct pci_dev *pdev)
{
	struct iommu_group *group = iommu_group_get(&pdev->dev);
	int id;

	if (!group)
		return -ENODEV;
	id = iommu_group_id(group);
	iommu_group_put(group);
	return id;
}

/*
 * Runtime PM of a bound device (rust/kernel_ext/runtime_pm.rs), as upstream vfio-pci-core's
 * register/unregister: allowed at bind and the usage reference the PCI core holds across
 * a probe given up (it is taken back before unbind; with disable_idle_d3 the driver holds
 * one of its own instead). All static inlines, and no-ops without CONFIG_PM.
 */
void rvfio_pm_runtime_allow(struct pci_dev *pdev);
void rvfio_pm_runtime_forbid(struct pci_dev *pdev);
int rvfio_pm_runtime_get(struct pci_dev *pdev);
void rvfio_pm_runtime_get_noresume(struct pci_dev *pdev);
void rvfio_pm_runtime_put(struct pci_dev *pdev);

/* Allows runtime PM of @pdev, just probed, and gives up the probe's usage reference. */
void rvfio_pm_runtime_allow(struct pci_dev *pdev)
{
	pm_runtime_allow(&pdev->dev);
	pm_runtime_put(&pdev->dev);
}

/* Takes back what rvfio_pm_runtime_allow() gave up and forbids runtime PM again. */
void rvfio_pm_runtime_forbid(struct pci_dev *pdev)
{
	pm_runtime_get_noresume(&pdev->dev);
	pm_runtime_forbid(&pdev->dev);
}

/* Resumes @pdev (D0) and holds it active; 0 or -errno (then nothing is held). */
int rvfio_pm_runtime_get(struct pci_dev *pdev)
{
	return pm_runtime_resume_and_get(&pdev->dev);
}

/* Holds @pdev active without resuming it. */
void rvfio_pm_runtime_get_noresume(struct pci_dev *pdev)
{
	pm_runtime_get_noresume(&pdev->dev);
}

void rvfio_pm_runtime_put(struct pci_dev *pdev)
{
	pm_runtime_put(&pdev->dev);
}
