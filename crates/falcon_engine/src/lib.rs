//! Native scikit-learn engine.
