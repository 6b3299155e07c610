//! activity: (placeholder; filled by its issue)
