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
}
