//! Placement of VMs on nodes and the migration planner (drain, rebalance, N+1).
//!
//! The crate holds no code yet: the control plane does not place VMs so far, and
//! requests are refused with `UNKNOWN_OP`. It stays in the workspace so the crate
//! map of docs/architecture.md matches the tree; its rules are fixed in
//! ARCHITECTURE terms already: pure functions, no I/O, no clock.
