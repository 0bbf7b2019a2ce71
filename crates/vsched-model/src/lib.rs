//! Domain vocabulary of vsched: error codes, memory sizes, names, records and the
//! operation table with its validation.
//!
//! Layout:
//! - [`error`]: the error codes of the external contract and [`OpError`];
//! - [`memstr`]: memory sizes such as `512M` or `4GiB`;
//! - [`fields`]: a reader that turns a JSON `data` object into typed fields, naming the
//!   field in every error;
//! - [`types`]: small enums and value types (roles, strategies, selectors);
//! - [`records`]: the replicated records (nodes, labels, vclusters, user params, tokens);
//! - [`ops`]: every operation, its required role and its parsed parameters.
//!
//! This crate does no I/O and reads no clock.

pub mod error;
pub mod fields;
pub mod memstr;
pub mod names;
pub mod ops;
pub mod records;
pub mod types;

pub use error::{ErrorCode, OpError, OpResult};
pub use memstr::Mem;
pub use ops::{Access, Op, OpSpec};
pub use types::{Caller, Role};
