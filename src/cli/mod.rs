//! The command line (clap). `coursectl` alone opens the console; every
//! operation is also a headless subcommand for cron: plain text or `--json`,
//! documented exit codes, never a prompt.

pub mod actions;
pub mod assign;
pub mod config_cmd;
pub mod live;
pub mod output;
pub mod stack;

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

use crate::config::{self, Config};
use crate::exit::ExitCode;
pub use output::{CmdResult, Failure, Out};

#[derive(Debug, Parser)]
#[command(
    name = "coursectl",
    version,
    about = "Run a JupyterHub course from one terminal: hub and proxy, Swarm placement, users and activity, assignments.",
    long_about = None,
    after_help = ExitCode::TABLE,
)]
pub struct Cli {
    /// Config file (else $COURSECTL_CONFIG, ~/.config/coursectl/config.toml, /etc/coursectl/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Machine-readable output on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Console only: hide every action that changes something.
    #[arg(long, global = true)]
    pub read_only: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start (or adopt) JupyterHub and the proxy under a background supervisor.
    Up(stack::UpArgs),
    /// Stop the supervisor, the hub and the proxy (SIGTERM, then SIGKILL).
    Down(stack::DownArgs),
    /// Health of hub, proxy, supervisor and Docker; `--record` also stores an activity sample.
    Status(stack::StatusArgs),
    /// Show the hub's or the proxy's log.
    Logs(stack::LogsArgs),
    /// Configuration commands.
    #[command(subcommand)]
    Config(config_cmd::ConfigCmd),
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
    /// Swarm nodes and the students' containers on each.
    Nodes(live::NodesArgs),
    /// Hub users with their servers and activity.
    Users(live::UsersArgs),
    /// Start or stop a student's server.
    #[command(subcommand)]
    Server(actions::ServerCmd),
    /// Drain or activate a Swarm node.
    #[command(subcommand)]
    Node(actions::NodeCmd),
    /// Copy an assignment into students' homes (never overwriting their files).
    Release(assign::ReleaseArgs),
    /// Snapshot students' work into submitted/ (versioned, atomic per student).
    Collect(assign::CollectArgs),
    /// Copy feedback into students' homes, read-only.
    Return(assign::ReturnArgs),
    /// Print the audit log of releases, collections and returns.
    Audit(assign::AuditArgs),
    /// The supervisor itself (started detached by `up`; systemd runs `up --foreground`).
    #[command(hide = true)]
    Supervise,
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::Usage
            } else {
                ExitCode::Ok
            };
        }
    };
    let out = Out::new(cli.json);
    match run(cli, out) {
        Ok(code) => code,
        Err(f) => {
            report_failure(&f, out);
            f.code
        }
    }
}

fn report_failure(f: &Failure, out: Out) {
    let msg = format!("{:#}", f.error);
    if out.json {
        out.json(&serde_json::json!({ "ok": false, "exit_code": f.code.code(), "error": msg }));
    }
    eprintln!("coursectl: error: {msg}");
}

fn run(cli: Cli, out: Out) -> CmdResult {
    // Commands that need no config.
    match &cli.command {
        Some(Command::Completions { shell }) => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "coursectl",
                &mut std::io::stdout(),
            );
            return Ok(ExitCode::Ok);
        }
        Some(Command::Man) => {
            clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .map_err(Failure::failed)?;
            return Ok(ExitCode::Ok);
        }
        Some(Command::Config(c)) => return config_cmd::run(c, cli.config.as_deref(), out),
        _ => {}
    }
    let cfg = config::load(cli.config.as_deref())?;
    if let Some(Command::Supervise) = &cli.command {
        // The daemon must not start a tokio runtime before it forks away.
        return stack::supervise(&cfg);
    }
    let name = match &cli.command {
        None => "console",
        Some(Command::Up(a)) if a.foreground => "supervisor",
        _ => "coursectl",
    };
    let _guard = crate::logging::init_file(&cfg.log_dir(), name);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Failure::failed)?;
    rt.block_on(async move {
        match cli.command {
            None => crate::tui::run(cfg, cli.read_only || config_read_only())
                .await
                .map(|_| ExitCode::Ok)
                .map_err(Failure::failed),
            Some(Command::Up(a)) => stack::up(&cfg, out, &a).await,
            Some(Command::Down(a)) => stack::down(&cfg, out, &a).await,
            Some(Command::Status(a)) => stack::status(&cfg, out, &a).await,
            Some(Command::Logs(a)) => stack::logs(&cfg, &a).await,
            Some(Command::Nodes(a)) => live::nodes(&cfg, out, &a).await,
            Some(Command::Users(a)) => live::users(&cfg, out, &a).await,
            Some(Command::Server(c)) => actions::server(&cfg, out, &c).await,
            Some(Command::Node(c)) => actions::node(&cfg, out, &c).await,
            Some(Command::Release(a)) => assign::release(&cfg, out, &a).await,
            Some(Command::Collect(a)) => assign::collect(&cfg, out, &a).await,
            Some(Command::Return(a)) => assign::return_feedback(&cfg, out, &a).await,
            Some(Command::Audit(a)) => assign::audit(&cfg, out, &a).await,
            Some(
                Command::Completions { .. }
                | Command::Man
                | Command::Config(_)
                | Command::Supervise,
            ) => Ok(ExitCode::Ok),
        }
    })
}

fn config_read_only() -> bool {
    false
}

/// Loads the config for a test or a helper that has a path.
pub fn load_config(path: Option<&std::path::Path>) -> Result<Config, Failure> {
    Ok(config::load(path)?)
}
