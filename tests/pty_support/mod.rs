//! The real `coursectl` console in an 80x24 pseudo-terminal (portable-pty),
//! its screen read through vt100. Shared by the console's end-to-end tests;
//! every wait polls the screen with a deadline, never a fixed sleep.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};

pub struct Console {
    child: Box<dyn Child + Send + Sync>,
    _master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    /// The parsed screen and every byte the console wrote.
    screen: Arc<Mutex<(vt100::Parser, Vec<u8>)>>,
}

impl Console {
    /// `coursectl --config CONFIG EXTRA...` in a fresh 80x24 terminal.
    pub fn start(bin: &Path, config: &Path, extra: &[&str]) -> Console {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 24,
                cols: 80,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
        let mut cmd = CommandBuilder::new(bin);
        cmd.arg("--config");
        cmd.arg(config);
        for a in extra {
            cmd.arg(a);
        }
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("NO_COLOR");
        cmd.env_remove("COURSECTL_CONFIG");
        let child = pair.slave.spawn_command(cmd).expect("spawn console");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("reader");
        let writer = pair.master.take_writer().expect("writer");
        let screen = Arc::new(Mutex::new((vt100::Parser::new(24, 80, 0), Vec::new())));
        let s2 = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut g = s2.lock().unwrap();
                g.0.process(&buf[..n]);
                g.1.extend_from_slice(&buf[..n]);
            }
        });
        Console {
            child,
            _master: pair.master,
            writer,
            screen,
        }
    }

    pub fn text(&self) -> String {
        self.screen.lock().unwrap().0.screen().contents()
    }

    /// Every byte written so far (escape sequences included).
    pub fn raw(&self) -> Vec<u8> {
        self.screen.lock().unwrap().1.clone()
    }

    pub fn keys(&mut self, s: &str) {
        self.writer.write_all(s.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// Polls the screen until `f` accepts it; panics with the last screen.
    pub fn wait_text(&self, what: &str, timeout: Duration, f: impl Fn(&str) -> bool) -> String {
        let t0 = Instant::now();
        loop {
            let t = self.text();
            if f(&t) {
                return t;
            }
            if t0.elapsed() > timeout {
                panic!("timed out after {timeout:?} waiting for {what}; screen:\n{t}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.process_id().expect("pid") as i32
    }

    pub fn try_wait(&mut self) -> Option<portable_pty::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> portable_pty::ExitStatus {
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.try_wait() {
                return st;
            }
            if t0.elapsed() > timeout {
                panic!("the console did not exit within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
    }
}
