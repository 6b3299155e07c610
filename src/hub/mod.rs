//! JupyterHub REST client (reqwest) and its wire types. Plain async Rust: the
//! supervisor, the console's pollers and the headless commands share it.

mod client;

pub use client::*;
