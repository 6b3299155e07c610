//! backup: (placeholder; filled by its issue)
