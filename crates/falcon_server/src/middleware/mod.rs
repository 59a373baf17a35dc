//! Cross-cutting request handling, one concern per file.

pub mod deadline;
pub mod observe;
