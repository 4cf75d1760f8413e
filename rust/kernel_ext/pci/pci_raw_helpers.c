// SPDX-License-Identifier: GPL-2.0
/*
 * Static inlines, bitfields and bus walks of the PCI API that rust/kernel_ext/pci/pci_raw.rs
 * needs and 7.3's bindings lack.
 */
#include <linux/iommu.h>
#include <linux/pci.h>
#include <linux/slab.h>

struct pci_dev *rvfio_pci_upstream_bridge(struct pci_dev *pdev);

struct pci_dev *rvfio_pci_upstream_bridge(struct pci_dev *pdev)
{
	return pci_upstream_bridge(pdev);
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
 * Slot and bus resets (VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, VFIO_DEVICE_PCI_HOT_RESET):
 * which reset reaches a function, the functions it reaches, and the key of the set of
 * vfio-pci devices sharing it (upstream's dev_set). rust/kernel_ext/pci/pci_raw.rs wraps them.
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

struct resource *rvfio_pci_reserve_page_rest(struct pci_dev *pdev, int bar);
void rvfio_pci_release_page_rest(struct resource *rest);

/*
 * Reserves the rest of the page that memory BAR @bar of @pdev, smaller than a page and
 * starting one, begins: a resource "vfio sub-page reserved" beside it, so that no BAR of a
 * hot-added device is assigned into the page while user space may map all of it (upstream's
 * vfio_pci_probe_mmaps()). NULL when something else is there already or on no memory.
 */
struct resource *rvfio_pci_reserve_page_rest(struct pci_dev *pdev, int bar)
{
	struct resource *res = &pdev->resource[bar];
	struct resource *rest;

	if (!(res->flags & IORESOURCE_MEM) || !resource_size(res) ||
	    resource_size(res) >= PAGE_SIZE || (res->start & ~PAGE_MASK) || !res->parent)
		return NULL;
	rest = kzalloc(sizeof(*rest), GFP_KERNEL_ACCOUNT);
	if (!rest)
		return NULL;
	rest->name = "vfio sub-page reserved";
	rest->start = res->end + 1;
	rest->end = res->start + PAGE_SIZE - 1;
	rest->flags = res->flags;
	if (request_resource(res->parent, rest)) {
		kfree(rest);
		return NULL;
	}
	return rest;
}

/* Undoes rvfio_pci_reserve_page_rest(). */
void rvfio_pci_release_page_rest(struct resource *rest)
{
	release_resource(rest);
	kfree(rest);
}
