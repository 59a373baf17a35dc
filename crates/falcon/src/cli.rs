//! One module per subcommand.

pub mod model;
pub mod predict;
pub mod serve;
