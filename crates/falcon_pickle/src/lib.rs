//! Safe unpickler for scikit-learn models saved with joblib or pickle.
pub mod value;
pub use value::{Array, ArrayData, Dtype, Global, Object, Value};
