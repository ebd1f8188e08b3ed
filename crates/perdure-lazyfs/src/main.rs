//! `perdure-lazyfs --backing DIR --mount DIR --control SOCKET`: mounts the lazy filesystem
//! (see the library) at `--mount` over `--backing` and serves the control socket, until the
//! mount is unmounted (the process then exits 0) or SIGTERM/SIGINT/SIGHUP (it unmounts, lazily,
//! and exits 0). Unsynced data dies with the process, as in a crash.
//!
//! Mounting: fuser's pure-Rust mount, mount(2) of /dev/fuse directly when root, else through
//! `fusermount3`. The source shown in /proc/mounts is `--fsname` (default `perdure-lazyfs`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use fuser::{Config, MountOption, Session};
use perdure_lazyfs::{control, fs, state};

#[derive(Parser)]
#[command(
    name = "perdure-lazyfs",
    version,
    about = "FUSE passthrough that loses unfsynced writes on command"
)]
struct Args {
    /// The directory holding what was fsynced (created if missing).
    #[arg(long)]
    backing: PathBuf,
    /// Where to mount (an existing directory).
    #[arg(long)]
    mount: PathBuf,
    /// Path of the control socket.
    #[arg(long)]
    control: PathBuf,
    /// Source name of the mount in /proc/mounts (how leftovers are found).
    #[arg(long, default_value = "perdure-lazyfs")]
    fsname: String,
    /// Threads serving FUSE requests.
    #[arg(long, default_value_t = 4)]
    threads: usize,
    /// Test mode (the suite's negative controls): an fsync of a file whose name ends with this
    /// succeeds without syncing anything. Repeatable.
    #[arg(long, value_name = "SUFFIX")]
    ignore_fsync_of: Vec<std::ffi::OsString>,
}

fn termination_signals() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise and fill a plain sigset_t.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::sigaddset(&mut set, sig);
        }
        set
    }
}

/// The daemon holds one backing descriptor per file open on the mount (RocksDB keeps every
/// table file open): as many as the soft limit of open files allows, so it is raised to the
/// hard one.
fn raise_open_files_limit() {
    // SAFETY: getrlimit/setrlimit read and write a plain struct.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                tracing::warn!("could not raise the open files limit");
            }
        }
    }
}

fn main() -> anyhow::Result<()> {
    // fuser::reply logs an ERROR for every reply the kernel no longer wants. When a process is
    // SIGKILLed mid-request the kernel sends FUSE_INTERRUPT for it; fuser answers ENOSYS after
    // the request itself was answered, and the kernel refuses that late answer (ENOENT): one
    // alarming line per interrupted request, after every kill of a node. Off unless RUST_LOG
    // says otherwise.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,fuser::reply=off")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();

    // Modes of created files are exactly the caller's (mode & !umask), not ours on top.
    // SAFETY: umask has no failure mode.
    unsafe { libc::umask(0) };
    raise_open_files_limit();
    // Every thread started from here on inherits the block; one thread waits for them.
    let signals = termination_signals();
    // SAFETY: a valid, initialised set; the old mask is not wanted.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &signals, std::ptr::null_mut()) };

    std::fs::create_dir_all(&args.backing)
        .with_context(|| format!("creating {}", args.backing.display()))?;
    let mut state = state::State::new(&args.backing)?;
    for suffix in &args.ignore_fsync_of {
        tracing::warn!(suffix = ?suffix, "test mode: fsync of files ending so does nothing");
        state.ignore_fsync_of(suffix.clone());
    }
    let state = Arc::new(state);

    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName(args.fsname.clone()),
        // The kernel checks permissions from our attributes (access is never asked).
        MountOption::DefaultPermissions,
    ];
    config.n_threads = Some(args.threads.max(1));
    config.clone_fd = true;
    let mut session = Session::new(fs::LazyFs::new(state.clone()), &args.mount, &config)
        .with_context(|| format!("mounting {}", args.mount.display()))?;
    let mut unmounter = session.unmount_callable();

    let listener = control::bind(&args.control)?;
    control::spawn(listener, state, session.notifier());

    let control_path = args.control.clone();
    std::thread::Builder::new()
        .name("lazyfs-signals".into())
        .spawn(move || {
            let mut sig: libc::c_int = 0;
            // SAFETY: a valid set, blocked in every thread; sigwait writes the signal number.
            unsafe { libc::sigwait(&signals, &mut sig) };
            tracing::info!(signal = sig, "unmounting (unsynced data is lost)");
            if let Err(e) = unmounter.unmount() {
                tracing::warn!(error = %e, "unmount failed");
            }
            let _ = std::fs::remove_file(&control_path);
            std::process::exit(0);
        })
        .context("starting the signal thread")?;

    tracing::info!(
        backing = %args.backing.display(),
        mount = %args.mount.display(),
        control = %args.control.display(),
        "mounted"
    );
    let ran = session.run();
    let _ = std::fs::remove_file(&args.control);
    ran.context("serving the mount")?;
    tracing::info!("unmounted");
    Ok(())
}
