//! Python-compatible text processing.
