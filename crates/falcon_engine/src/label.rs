//! Class labels as scikit-learn stores them in `classes_`.

use serde::{Serialize, Serializer};

/// One class label. Serialises to JSON as the value itself (a string stays a
/// string, an integer a number); [`std::fmt::Display`] gives Python's
/// `str(label)`, the key used in `probabilities` and `decision` maps.
#[derive(Debug, Clone, PartialEq)]
pub enum Label {
    Str(String),
    Int(i64),
    Bool(bool),
    Float(f64),
}

impl Label {
    /// Python's `str(label)`, as [`std::fmt::Display`] writes it, borrowed
    /// for a string label: answers and log rows spell class names per
    /// request, and formatting a string through `Display` cost more than
    /// the copy (it showed in cache-hit profiles, issue #15).
    pub fn name(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Label::Str(s) => std::borrow::Cow::Borrowed(s),
            other => std::borrow::Cow::Owned(other.to_string()),
        }
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Label::Str(s) => f.write_str(s),
            Label::Int(i) => write!(f, "{i}"),
            Label::Bool(true) => f.write_str("True"),
            Label::Bool(false) => f.write_str("False"),
            // Python's repr keeps a ".0" on integral floats.
            Label::Float(x) if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e16 => {
                write!(f, "{x:.1}")
            }
            Label::Float(x) => write!(f, "{x}"),
        }
    }
}

impl Serialize for Label {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Label::Str(v) => s.serialize_str(v),
            Label::Int(v) => s.serialize_i64(*v),
            Label::Bool(v) => s.serialize_bool(*v),
            Label::Float(v) => s.serialize_f64(*v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_str() {
        assert_eq!(Label::Int(3).to_string(), "3");
        assert_eq!(Label::Float(1.0).to_string(), "1.0");
        assert_eq!(Label::Float(0.5).to_string(), "0.5");
        assert_eq!(Label::Bool(true).to_string(), "True");
        assert_eq!(Label::Str("spam".into()).to_string(), "spam");
    }

    #[test]
    fn name_is_display_and_borrows_strings() {
        for l in [
            Label::Int(-3),
            Label::Float(1.0),
            Label::Float(1e20),
            Label::Float(f64::NAN),
            Label::Bool(false),
            Label::Str("ham".into()),
        ] {
            assert_eq!(l.name(), l.to_string());
        }
        let l = Label::Str("ham".into());
        assert!(matches!(l.name(), std::borrow::Cow::Borrowed("ham")));
    }
}
