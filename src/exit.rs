//! Exit codes of every `coursectl` command, in one place so cron jobs and
//! scripts can rely on them. `coursectl --help` and the README list them.

/// The process exit codes. Values are stable: cron lines test them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Everything asked for was done.
    Ok = 0,
    /// The operation failed (a component unreachable, a process would not start...).
    Failed = 1,
    /// Bad command line or bad configuration: nothing was done.
    Usage = 2,
    /// Partly done: some students/items succeeded, some did not (see the report).
    Partial = 3,
    /// Another coursectl operation holds the course lock; nothing was done.
    Busy = 4,
}

impl ExitCode {
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The table printed in help texts and the README.
    pub const TABLE: &'static str = "EXIT CODES:\n  0  ok\n  1  failed (a component unreachable, an operation failed)\n  2  usage or configuration error: nothing was done\n  3  partly done: some items failed, see the report\n  4  busy: another coursectl operation holds the course lock";
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c.code())
    }
}
