//! swarm: (placeholder; filled by its issue)
