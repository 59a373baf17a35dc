//! One module per subcommand.

pub mod bench;
pub mod cluster;
pub mod code;
pub mod keys;
pub mod log;
pub mod model;
pub mod nginx;
pub mod predict;
pub mod report;
pub mod serve;
pub mod tune;
pub mod verify;

/// An error and its causes on one line, `outer: cause: root`, each reason
/// once.
///
/// Why not `{e:#}`: several library errors already include their source in
/// their own message (`EngineError::Pickle` displays the unpickler's
/// reason *and* returns it as its source), and anyhow's alternate format
/// appends every source again, so `falcon model inspect` printed the
/// unpickler's reason twice. A cause whose text the line already holds is
/// skipped.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.is_empty() {
            out = text;
        } else if !text.is_empty() && !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::error_text;

    /// Like `#[error("outer: {0}")] Repeats(#[from] io::Error)`.
    #[derive(Debug)]
    struct Repeats(std::io::Error);

    impl std::fmt::Display for Repeats {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "outer: {}", self.0)
        }
    }

    impl std::error::Error for Repeats {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn each_reason_once() {
        let io = || std::io::Error::other("disk on fire");
        let e = anyhow::Error::new(Repeats(io())).context("loading m.pkl");
        assert_eq!(error_text(&e), "loading m.pkl: outer: disk on fire");
        // Causes not already in the message are kept, in order.
        let e = anyhow::Error::new(io())
            .context("reading x")
            .context("loading m.pkl");
        assert_eq!(error_text(&e), "loading m.pkl: reading x: disk on fire");
    }
}
