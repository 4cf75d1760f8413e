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
unsigned long rvfio_vmf_pgoff(const struct vm_fault *vmf);
vm_fault_t rvfio_vmf_insert_pfn(struct vm_fault *vmf, unsigned long pfn);

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
