// SPDX-License-Identifier: GPL-2.0

//! The IOVA ranges user mappings may use: the intersection of the domains' apertures,
//! minus every attached group's reserved regions (reported by `VFIO_IOMMU_GET_INFO` as the
//! IOVA_RANGE capability; `MAP_DMA` outside them fails with -EINVAL).

use kernel::prelude::*;

use crate::ext::iommu_domain::IovaRange;

/// A sorted list of disjoint IOVA ranges.
pub(crate) struct IovaRanges {
    ranges: KVec<IovaRange>,
}

impl IovaRanges {
    /// The whole of `aperture`.
    pub(crate) fn new(aperture: IovaRange) -> Result<Self> {
        let mut ranges = KVec::new();
        if aperture.start <= aperture.end {
            ranges.push(aperture, GFP_KERNEL)?;
        }
        Ok(Self { ranges })
    }

    /// The ranges, in ascending order.
    pub(crate) fn as_slice(&self) -> &[IovaRange] {
        &self.ranges
    }

    /// Restricts the ranges to `aperture`.
    pub(crate) fn clamp(&mut self, aperture: IovaRange) {
        self.ranges
            .retain(|r| r.end >= aperture.start && r.start <= aperture.end);
        for r in self.ranges.iter_mut() {
            r.start = r.start.max(aperture.start);
            r.end = r.end.min(aperture.end);
        }
    }

    /// Removes `hole` from the ranges, splitting the one it falls inside.
    pub(crate) fn exclude(&mut self, hole: IovaRange) -> Result {
        let mut out = KVec::with_capacity(self.ranges.len() + 1, GFP_KERNEL)?;
        for r in self.ranges.iter() {
            if hole.end < r.start || hole.start > r.end {
                out.push(*r, GFP_KERNEL)?;
                continue;
            }
            if hole.start > r.start {
                out.push(
                    IovaRange {
                        start: r.start,
                        end: hole.start - 1,
                    },
                    GFP_KERNEL,
                )?;
            }
            if hole.end < r.end {
                out.push(
                    IovaRange {
                        start: hole.end + 1,
                        end: r.end,
                    },
                    GFP_KERNEL,
                )?;
            }
        }
        self.ranges = out;
        Ok(())
    }

    /// Whether `[start, end]` lies entirely inside one range.
    pub(crate) fn contains(&self, start: u64, end: u64) -> bool {
        self.ranges.iter().any(|r| start >= r.start && end <= r.end)
    }
}
