//! One module per subcommand.

pub mod bench;
pub mod cluster;
pub mod keys;
pub mod log;
pub mod model;
pub mod predict;
pub mod report;
pub mod serve;
pub mod tune;
