//! Placement of VMs on nodes and planning of migrations, as pure functions:
//! no I/O, no clock, no shared state. The caller builds a [`ClusterView`] and
//! gets back decisions; it decides what to commit.
//!
//! Layout:
//! - [`vector`]: resource vectors (vCPU, RAM, room for more dimensions);
//! - [`view`]: nodes, vclusters, VMs as placement sees them;
//! - [`filter`]: the feasibility filters and the counts that explain a refusal;
//! - [`score`]: the multi-resource best-fit score;
//! - [`index`]: the free-capacity index that keeps a placement sub-linear;
//! - [`place`]: placing a request (all replicas or none) and batches;
//! - [`plan`]: drain and rebalance plans and the N+1 check;
//! - [`pack`]: offline vector bin packing, for batches and for `vsched sim`;
//! - [`vbp`]: the VPSolver instance format.

pub mod filter;
pub mod index;
pub mod pack;
pub mod place;
pub mod plan;
pub mod score;
pub mod vbp;
pub mod vector;
pub mod view;

pub use filter::Rejections;
pub use place::{place_batch, Placement, PlacementRequest, QuotaScope, Unplaceable};
pub use vector::{Vector, MAX_DIMS};
pub use view::{ClusterView, NodeId, VclusterId, VclusterSpec, VmId, VmSpec};
