//! The only code that touches student-controlled trees. Everything goes
//! through directory fds: a child is opened with `openat(dir, name,
//! O_NOFOLLOW)`, types come from `fstatat(AT_SYMLINK_NOFOLLOW)` and are
//! re-checked with `fstat` on the opened fd, and files are only opened when
//! they are regular (with `O_NONBLOCK`, so a FIFO swapped in between can
//! never block). Writes create a temporary with `O_CREAT|O_EXCL|O_NOFOLLOW`
//! and rename it into place without replacing anything, so a student's
//! symlink can neither redirect a read nor a write.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::fcntl::{openat, renameat, renameat2, AtFlags, OFlag, RenameFlags, AT_FDCWD};
use nix::sys::stat::{fchmod, fstat, fstatat, futimens, mkdirat, FileStat, Mode};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, unlinkat, Gid, Uid, UnlinkatFlags};
use sha2::{Digest, Sha256};

use super::policy::{decide, Budget, Decision, Kind, Limits};
use super::report::{Item, ItemKind};

/// Prefix of our temporary files in student dirs (root-owned until renamed).
pub const TMP_PREFIX: &str = ".coursectl-tmp-";

/// A lossless, printable form of a path: bytes outside printable ASCII, and
/// `%` itself, become `%XX`. Used for reports and manifest keys, so a name
/// with a newline or invalid UTF-8 stays intact and cannot forge lines.
pub fn escape(p: &Path) -> String {
    escape_bytes(p.as_os_str().as_bytes())
}

pub fn escape_bytes(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for &c in b {
        if (0x20..0x7f).contains(&c) && c != b'%' {
            s.push(c as char);
        } else {
            s.push_str(&format!("%{c:02X}"));
        }
    }
    s
}

pub fn kind_of(st: &FileStat) -> Kind {
    use nix::libc::{S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK};
    match st.st_mode & S_IFMT {
        S_IFREG => Kind::File,
        S_IFDIR => Kind::Dir,
        S_IFLNK => Kind::Symlink,
        S_IFIFO => Kind::Fifo,
        S_IFSOCK => Kind::Socket,
        S_IFCHR => Kind::CharDevice,
        S_IFBLK => Kind::BlockDevice,
        _ => Kind::Unknown,
    }
}

pub fn mtime(st: &FileStat) -> TimeSpec {
    TimeSpec::new(st.st_mtime, st.st_mtime_nsec)
}

pub fn mtime_ns(st: &FileStat) -> i64 {
    st.st_mtime
        .saturating_mul(1_000_000_000)
        .saturating_add(st.st_mtime_nsec)
}

pub fn ctime_ns(st: &FileStat) -> i64 {
    st.st_ctime
        .saturating_mul(1_000_000_000)
        .saturating_add(st.st_ctime_nsec)
}

pub fn size_of(st: &FileStat) -> u64 {
    u64::try_from(st.st_size).unwrap_or(0)
}

fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

/// Opens a child directory, never through a symlink (ELOOP then).
pub fn open_dir_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<OwnedFd, Errno> {
    openat(dir, name, dir_flags(), Mode::empty())
}

/// Opens a path the admin controls (course dir, home template prefix); symlinks followed.
pub fn open_dir_path(path: &Path) -> io::Result<OwnedFd> {
    openat(
        AT_FDCWD,
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(io::Error::from)
}

pub fn lstat_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<FileStat, Errno> {
    fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)
}

/// Opens a regular file for reading. Refuses (ELOOP/EINVAL) anything that is
/// not a regular file once open, without ever blocking on a FIFO.
pub fn open_regular_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<(File, FileStat), Errno> {
    let fd = openat(
        dir,
        name,
        OFlag::O_RDONLY
            | OFlag::O_NOFOLLOW
            | OFlag::O_NONBLOCK
            | OFlag::O_NOCTTY
            | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let st = fstat(&fd)?;
    if kind_of(&st) != Kind::File {
        return Err(Errno::EINVAL);
    }
    Ok((File::from(fd), st))
}

/// Why a student's directory (home or `<home>/<a>`) was not used.
#[derive(Debug)]
pub enum DirRefusal {
    Missing,
    Symlink(PathBuf),
    NotADirectory(PathBuf),
    Io(PathBuf, Errno),
}

impl DirRefusal {
    pub fn item(&self) -> Item {
        match self {
            DirRefusal::Missing => Item::new(".", ItemKind::HomeMissing),
            DirRefusal::Symlink(p) => Item::new(escape(p), ItemKind::HomeSymlink)
                .with("is a symlink: refused, not followed"),
            DirRefusal::NotADirectory(p) => Item::new(escape(p), ItemKind::NotADirectory),
            DirRefusal::Io(p, e) => Item::new(escape(p), ItemKind::Unreadable).with(e.desc()),
        }
    }
}

fn classify_open_error(dir: BorrowedFd<'_>, name: &OsStr, path: &Path, e: Errno) -> DirRefusal {
    match e {
        Errno::ENOENT => DirRefusal::Missing,
        Errno::ELOOP | Errno::ENOTDIR => match lstat_at(dir, name).map(|st| kind_of(&st)) {
            Ok(Kind::Symlink) => DirRefusal::Symlink(path.to_path_buf()),
            _ => DirRefusal::NotADirectory(path.to_path_buf()),
        },
        e => DirRefusal::Io(path.to_path_buf(), e),
    }
}

/// Opens a student's home from the `paths.home` template. The part before
/// the `{username}` component is the admin's (symlinks there are followed);
/// from that component on every step is opened with `O_NOFOLLOW`, so a home
/// that is a symlink (to /etc, to another student) is refused.
pub fn open_home(template: &str, user: &str) -> Result<OwnedFd, DirRefusal> {
    let segs: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
    let Some(i) = segs.iter().position(|s| s.contains("{username}")) else {
        return Err(DirRefusal::Missing);
    };
    let prefix = PathBuf::from(format!("/{}", segs[..i].join("/")));
    let mut fd = open_dir_path(&prefix).map_err(|e| {
        DirRefusal::Io(
            prefix.clone(),
            Errno::from_raw(e.raw_os_error().unwrap_or(nix::libc::EIO)),
        )
    })?;
    let mut path = prefix;
    for seg in &segs[i..] {
        let name = seg.replace("{username}", user);
        path.push(&name);
        let name = OsStr::new(&name);
        let next = open_dir_at(fd.as_fd(), name)
            .map_err(|e| classify_open_error(fd.as_fd(), name, &path, e))?;
        fd = next;
    }
    Ok(fd)
}

/// Opens `<dir>/<name>` as a directory, refusing symlinks.
pub fn open_subdir(dir: BorrowedFd<'_>, name: &OsStr) -> Result<OwnedFd, DirRefusal> {
    open_dir_at(dir, name).map_err(|e| classify_open_error(dir, name, Path::new(name), e))
}

/// The names in a directory, sorted (bytes order) for deterministic reports.
pub fn list_dir(dir: BorrowedFd<'_>) -> Result<Vec<OsString>, Errno> {
    // A fresh fd for the stream: fdopendir takes ownership of what it gets.
    let fd = openat(dir, ".", dir_flags(), Mode::empty())?;
    let mut d = nix::dir::Dir::from_fd(fd)?;
    let mut names = Vec::new();
    for e in d.iter() {
        let e = e?;
        let b = e.file_name().to_bytes();
        if b == b"." || b == b".." {
            continue;
        }
        names.push(OsStr::from_bytes(b).to_os_string());
    }
    names.sort();
    Ok(names)
}

/// Receives what a walk finds. Paths are relative to the walk's root.
pub trait Visitor {
    /// A directory about to be entered; `false` skips it (the visitor reports why).
    fn enter(&mut self, rel: &Path, name: &OsStr, st: &FileStat) -> bool;
    /// Done with that directory (`dir` is its fd).
    fn leave(&mut self, rel: &Path, dir: BorrowedFd<'_>);
    /// A regular file the policy takes.
    fn file(&mut self, parent: BorrowedFd<'_>, name: &OsStr, rel: &Path, st: &FileStat);
    /// Something not taken (symlink, FIFO, over a cap, unreadable...).
    fn skip(&mut self, item: Item);
}

/// Walks the tree under `root` (depth 0) depth-first, deciding every entry
/// with [`policy::decide`](super::policy::decide). Never follows a symlink.
pub fn walk(root: BorrowedFd<'_>, limits: &Limits, budget: &mut Budget, v: &mut dyn Visitor) {
    let mut rel = PathBuf::new();
    walk_dir(root, &mut rel, 0, limits, budget, v);
}

fn walk_dir(
    dir: BorrowedFd<'_>,
    rel: &mut PathBuf,
    depth: u32,
    limits: &Limits,
    budget: &mut Budget,
    v: &mut dyn Visitor,
) {
    let names = match list_dir(dir) {
        Ok(n) => n,
        Err(e) => {
            v.skip(Item::new(display_rel(rel), ItemKind::Unreadable).with(e.desc()));
            return;
        }
    };
    for name in names {
        rel.push(&name);
        let st = match lstat_at(dir, &name) {
            Ok(st) => st,
            // Removed while we walk: nothing to take.
            Err(Errno::ENOENT) => {
                rel.pop();
                continue;
            }
            Err(e) => {
                v.skip(Item::new(escape(rel), ItemKind::Unreadable).with(e.desc()));
                rel.pop();
                continue;
            }
        };
        let kind = kind_of(&st);
        match decide(kind, size_of(&st), depth + 1, budget, limits) {
            Decision::Skip(k) => {
                let item = Item::new(escape(rel), k);
                let item = match kind {
                    Kind::File => item.with(format!("{} bytes", size_of(&st))),
                    Kind::Symlink => item.with("symlink: not followed"),
                    Kind::Fifo => item.with("FIFO: not opened"),
                    Kind::Socket => item.with("socket: not opened"),
                    Kind::CharDevice | Kind::BlockDevice => item.with("device: not opened"),
                    _ => item,
                };
                v.skip(item);
            }
            Decision::Take if kind == Kind::Dir => match open_dir_at(dir, &name) {
                Ok(sub) => {
                    if v.enter(rel, &name, &st) {
                        walk_dir(sub.as_fd(), rel, depth + 1, limits, budget, v);
                        v.leave(rel, sub.as_fd());
                    }
                }
                // Swapped for a symlink since the lstat.
                Err(Errno::ELOOP | Errno::ENOTDIR) => {
                    v.skip(Item::new(escape(rel), ItemKind::Symlink).with("changed while walking"))
                }
                Err(Errno::ENOENT) => {}
                Err(e) => v.skip(Item::new(escape(rel), ItemKind::Unreadable).with(e.desc())),
            },
            Decision::Take => v.file(dir, &name, rel, &st),
        }
        rel.pop();
    }
}

fn display_rel(rel: &Path) -> String {
    if rel.as_os_str().is_empty() {
        ".".into()
    } else {
        escape(rel)
    }
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn tmp_name() -> OsString {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    OsString::from(format!("{TMP_PREFIX}{}-{n}", std::process::id()))
}

/// How a new file is finished.
#[derive(Debug, Clone, Copy)]
pub struct NewFile {
    pub mode: u32,
    /// chown to this after it is in place (None: stays root's).
    pub owner: Option<(u32, u32)>,
    pub mtime: Option<TimeSpec>,
    /// Copy at most this many bytes (the size the caps were checked against).
    pub limit: u64,
    /// Replace an existing file at `name` (release --update only).
    pub replace: bool,
}

/// Copies `src` into `<dir>/<name>` safely: a root-owned temporary made with
/// `O_CREAT|O_EXCL|O_NOFOLLOW`, then renamed without replacing anything
/// (`RENAME_NOREPLACE`) unless `replace`. Returns the bytes copied;
/// `EEXIST` if something appeared at `name` meanwhile (left untouched).
pub fn write_new(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    src: &mut File,
    how: NewFile,
) -> io::Result<u64> {
    let tmp = tmp_name();
    let fd = openat(
        dir,
        tmp.as_os_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )?;
    let mut dst = File::from(fd);
    let res = (|| -> io::Result<u64> {
        // File→File through `take` keeps std's copy_file_range fast path.
        let n = io::copy(&mut src.by_ref().take(how.limit), &mut dst)?;
        if let Some(m) = how.mtime {
            futimens(&dst, &m, &m)?;
        }
        fchmod(&dst, Mode::from_bits_truncate(how.mode))?;
        if how.replace {
            renameat(dir, tmp.as_os_str(), dir, name)?;
        } else {
            renameat2(
                dir,
                tmp.as_os_str(),
                dir,
                name,
                RenameFlags::RENAME_NOREPLACE,
            )?;
        }
        Ok(n)
    })();
    match res {
        Ok(n) => {
            // chown last, on the fd: a kill before this leaves a root-owned
            // file that the next run recognises as ours and fixes.
            if let Some((u, g)) = how.owner {
                fchown(&dst, Some(Uid::from_raw(u)), Some(Gid::from_raw(g)))?;
            }
            Ok(n)
        }
        Err(e) => {
            let _ = unlinkat(dir, tmp.as_os_str(), UnlinkatFlags::NoRemoveDir);
            Err(e)
        }
    }
}

/// Makes `<dir>/<name>` a directory (or finds it) and opens it without following symlinks.
/// Returns the fd and whether we created it.
pub fn make_dir_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    mode: u32,
) -> Result<(OwnedFd, bool), DirRefusal> {
    let created = match mkdirat(dir, name, Mode::from_bits_truncate(mode)) {
        Ok(()) => true,
        Err(Errno::EEXIST) => false,
        Err(e) => return Err(DirRefusal::Io(PathBuf::from(name), e)),
    };
    let fd = open_subdir(dir, name)?;
    Ok((fd, created))
}

/// Removes our own stale temporaries (root-owned, our prefix) left by a killed run.
pub fn remove_stale_tmps(dir: BorrowedFd<'_>) {
    let Ok(names) = list_dir(dir) else { return };
    for n in names {
        if !n.as_bytes().starts_with(TMP_PREFIX.as_bytes()) {
            continue;
        }
        if let Ok(st) = lstat_at(dir, &n) {
            // Only files we made: students cannot create root-owned files.
            if kind_of(&st) == Kind::File && st.st_uid == 0 {
                let _ = unlinkat(dir, n.as_os_str(), UnlinkatFlags::NoRemoveDir);
            }
        }
    }
}

/// SHA-256 of a file, hex.
pub fn hash_file(f: &mut File) -> io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Writes a small file atomically (tmp + rename) in an admin-owned dir;
/// `sync` also makes it durable (fsync) before the rename.
pub fn write_atomic(path: &Path, data: &[u8], sync: bool) -> io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let mut f = File::create(&tmp)?;
    f.write_all(data)?;
    if sync {
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}
