//! course: (placeholder; filled by its issue)
