//! culler: (placeholder; filled by its issue)
