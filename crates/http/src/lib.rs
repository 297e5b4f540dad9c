//! Linli HTTP adapter: filled by the HTTP issue.
