//! The crate's single error type.

/// Everything that can go wrong in `falcon_text`.
///
/// Compile-time errors distinguish patterns that CPython itself rejects ([`TextError::Syntax`])
/// from valid Python patterns that this crate refuses because it cannot reproduce their
/// behaviour exactly ([`TextError::Unsupported`]). Refusing is deliberate: a model that silently
/// tokenizes differently from scikit-learn would produce wrong predictions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// CPython's `re.compile` would raise `re.error` for this pattern.
    #[error("invalid Python regex {pattern:?} at position {pos}: {msg}")]
    Syntax {
        /// The pattern as given.
        pattern: String,
        /// Code point offset of the error, as Python reports it.
        pos: usize,
        /// Description (close to CPython's message).
        msg: String,
    },
    /// Valid in Python, but not reproduced faithfully here, so refused.
    #[error("unsupported construct in Python regex {pattern:?} at position {pos}: {construct}")]
    Unsupported {
        /// The pattern as given.
        pattern: String,
        /// Code point offset of the construct (0 when it concerns the whole pattern).
        pos: usize,
        /// What is not supported.
        construct: String,
    },
    /// The Rust regex engine rejected the translated pattern (typically a size limit).
    #[error("regex engine rejected translation of {pattern:?}: {msg}")]
    Engine {
        /// The Python pattern.
        pattern: String,
        /// The engine's message.
        msg: String,
    },
    /// The backtracking engine gave up on this input (catastrophic pattern/input combination).
    #[error("backtracking limit exceeded while matching Python regex {pattern:?}")]
    BacktrackLimit {
        /// The Python pattern.
        pattern: String,
    },
    /// `re.findall` would return tuples; scikit-learn refuses such token patterns.
    #[error("Python regex {pattern:?} has {groups} capturing groups; findall supports at most 1")]
    TooManyGroups {
        /// The Python pattern.
        pattern: String,
        /// Number of capturing groups.
        groups: usize,
    },
    /// Flags CPython refuses for str patterns (`re.LOCALE`, `re.ASCII | re.UNICODE`) or that
    /// are not reproduced (`re.TEMPLATE`).
    #[error("invalid regex flags {flags}: {msg}")]
    Flags {
        /// The integer value as given.
        flags: i64,
        /// Why.
        msg: String,
    },
    /// A replacement template CPython would reject (`re.error`, or `IndexError` for an
    /// unknown group name), or one used with a pattern that lacks its groups.
    #[error("invalid replacement template {template:?} at position {pos}: {msg}")]
    Template {
        /// The template as given.
        template: String,
        /// Code point offset, as Python reports it (0 when it concerns the whole template).
        pos: usize,
        /// Description (close to CPython's message).
        msg: String,
    },
    /// A byte offset that is not on a character boundary (Python offsets are code points, so
    /// such an offset cannot come from a Python program).
    #[error("byte offset {pos} is not on a character boundary")]
    Position {
        /// The offset.
        pos: usize,
    },
    /// Python would produce a string Rust cannot hold (a lone surrogate, e.g. from the HTML
    /// entity `&#xD800;`), so the result is refused rather than altered.
    #[error("unrepresentable result: {what}")]
    Unrepresentable {
        /// What would have been produced.
        what: String,
    },
}
