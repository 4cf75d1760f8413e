// SPDX-License-Identifier: GPL-2.0
#include <linux/pci.h>
#include <linux/pm_runtime.h>

/*
 * Runtime PM of a bound device (rust/kernel_ext/pci/runtime_pm.rs), as upstream vfio-pci-core's
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
