// SPDX-License-Identifier: GPL-2.0
/*
 * The VMA and fault fields that rust/kernel_ext/mm/pfn_mmap.rs needs, and the static
 * inlines that set up a PFN mapping. Field accesses of VMAs and faults stay in C so that no
 * Rust code depends on bindgen's view of these structures.
 */
#include <linux/mm.h>

void rvfio_vma_describe(const struct vm_area_struct *vma, unsigned long *start,
			unsigned long *end, unsigned long *pgoff, bool *shared);
void rvfio_vma_set_pfnmap(struct vm_area_struct *vma,
			  const struct vm_operations_struct *ops, void *private);
void *rvfio_vmf_private(const struct vm_fault *vmf);
bool rvfio_vmf_block(const struct vm_fault *vmf, unsigned int order, unsigned long *pgoff);
vm_fault_t rvfio_vmf_insert_pfn(struct vm_fault *vmf, unsigned long pfn, unsigned int order);

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

/*
 * Whether the naturally aligned block of 2^@order pages around the faulting address lies
 * in its VMA; if so, *@pgoff is the file page offset of the block's first page.
 */
bool rvfio_vmf_block(const struct vm_fault *vmf, unsigned int order, unsigned long *pgoff)
{
	const struct vm_area_struct *vma = vmf->vma;
	unsigned long size = PAGE_SIZE << order;
	unsigned long addr = vmf->address & ~(size - 1);

	if (addr < vma->vm_start || addr + size > vma->vm_end)
		return false;
	*pgoff = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
	return true;
}

/*
 * Maps the 2^@order frames from @pfn (aligned to that) at the fault's block: a page, a PMD
 * or a PUD leaf where the architecture has PFN leaves of that size; VM_FAULT_FALLBACK
 * (a smaller order next) for any other order, as upstream's vfio_pci_vmf_insert_pfn().
 */
vm_fault_t rvfio_vmf_insert_pfn(struct vm_fault *vmf, unsigned long pfn, unsigned int order)
{
	if (!order)
		return vmf_insert_pfn(vmf->vma, vmf->address, pfn);
#ifdef CONFIG_ARCH_SUPPORTS_PMD_PFNMAP
	if (order == PMD_ORDER)
		return vmf_insert_pfn_pmd(vmf, pfn, false);
#endif
#ifdef CONFIG_ARCH_SUPPORTS_PUD_PFNMAP
	if (order == PUD_ORDER)
		return vmf_insert_pfn_pud(vmf, pfn, false);
#endif
	return VM_FAULT_FALLBACK;
}
