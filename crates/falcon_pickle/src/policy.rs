//! Which classes a pickle may instantiate, and the resource limits of a load.
//!
//! Unpickling normally imports and calls whatever `module.name` the file
//! says, which is arbitrary code execution. Here nothing is ever called: a
//! global is either one of the few builtins this crate reconstructs itself
//! (sets, numpy arrays, ...), or a class the caller allowed, which becomes an
//! inert [`crate::Object`], or the load fails with
//! [`crate::PickleError::Refused`].

use std::collections::{HashMap, HashSet};

/// Allowlist of classes that may appear in a pickle as plain
/// [`crate::Object`]s, plus the [`Limits`] of the load.
///
/// ```
/// let mut policy = falcon_pickle::Policy::new();
/// policy
///     .allow("sklearn.pipeline", "Pipeline")
///     .allow("sklearn.linear_model._logistic", "LogisticRegression");
/// assert!(policy.is_allowed("sklearn.pipeline", "Pipeline"));
/// assert!(!policy.is_allowed("os", "system"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// module -> names allowed in it.
    names: HashMap<String, HashSet<String>>,
    /// Modules all of whose names are allowed (exact module match only).
    modules: HashSet<String>,
    limits: Limits,
}

impl Policy {
    /// An empty allowlist: only the built-in plain-data globals load.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows the class `module.name` to be instantiated as an
    /// [`crate::Object`] (and referenced as a [`crate::Global`]).
    pub fn allow(&mut self, module: &str, name: &str) -> &mut Self {
        self.names
            .entry(module.to_owned())
            .or_default()
            .insert(name.to_owned());
        self
    }

    /// Allows every name defined directly in `module` (not in its
    /// submodules). Coarser than [`Policy::allow`]; prefer listing classes.
    pub fn allow_all_in(&mut self, module: &str) -> &mut Self {
        self.modules.insert(module.to_owned());
        self
    }

    /// Whether `module.name` was allowed by [`Policy::allow`] or
    /// [`Policy::allow_all_in`]. Built-in globals are not reported here.
    pub fn is_allowed(&self, module: &str, name: &str) -> bool {
        self.modules.contains(module)
            || self
                .names
                .get(module)
                .is_some_and(|names| names.contains(name))
    }

    /// Replaces the resource limits.
    pub fn set_limits(&mut self, limits: Limits) -> &mut Self {
        self.limits = limits;
        self
    }

    /// The resource limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}

/// Upper bounds that keep a hostile file from exhausting memory or stack.
///
/// Besides these absolute caps, every allocation is also bounded by the size
/// of the input: sizes declared in the file are checked against the bytes
/// that actually follow before anything is allocated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes a compressed joblib container may inflate to. The effective
    /// cap is also at most 1000 times the compressed size.
    pub max_decompressed_bytes: u64,
    /// Most (estimated) bytes the final [`crate::Value`] tree may occupy. The
    /// effective cap is also at most 256 MiB + 128 times the pickle size; it
    /// is what stops memo-reference "billion laughs" expansion.
    pub max_value_bytes: u64,
    /// Deepest nesting of containers in the result. Deeper data is refused
    /// rather than risking a stack overflow in code that walks the tree
    /// recursively (including `Drop`).
    pub max_depth: usize,
    /// Most elements one numpy array may have.
    pub max_array_elements: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_decompressed_bytes: 2 << 30,
            max_value_bytes: 8 << 30,
            max_depth: 256,
            max_array_elements: 1 << 32,
        }
    }
}
