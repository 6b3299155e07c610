//! coursectl: a terminal console for running a JupyterHub course.
//!
//! Domain modules (hub, proxy, swarm, supervisor, course, activity, culler,
//! backup) are plain async Rust and never import ratatui or crossterm; the
//! `tui` module is a thin layer over app state, and `cli` is the headless face
//! of the same engine.

// Config errors carry file, line, key and fix; they are built once, at start.
#![allow(clippy::result_large_err)]

pub mod activity;
pub mod backup;
pub mod cli;
pub mod config;
pub mod course;
pub mod culler;
pub mod exit;
pub mod hub;
pub mod logging;
pub mod names;
pub mod proxy;
pub mod secrets;
pub mod supervisor;
pub mod swarm;
pub mod tui;
