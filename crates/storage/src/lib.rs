//! Linli storage: filled by the storage issue.
