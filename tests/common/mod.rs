//! Helpers shared by the integration tests: reading a server's WAL back from disk, and running
//! `hwal load` until it is killed.
#![allow(dead_code)]

pub mod recovery;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use hwal::format::{read_log, RecoveryMode, TailState};
use hwal::wal::naming;
use hwal::Entry;

/// One entry read back, with where it was found.
#[derive(Debug, Clone)]
pub struct Found {
    pub file: String,
    pub offset: u64,
    pub entry: Entry,
}

/// Every entry of `root/WALs/<server>/`, files in file-number order, and each file's tail.
pub fn read_server(root: &Path, server: &str) -> (Vec<Found>, Vec<(String, TailState)>) {
    let dir = root.join(naming::server_dir(server));
    let mut files: Vec<(u64, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            Some((naming::parse_file_number(server, &name)?, name))
        })
        .collect();
    files.sort();
    let mut found = Vec::new();
    let mut tails = Vec::new();
    for (_, name) in files {
        let path = dir.join(&name);
        let bytes = std::fs::read(&path).unwrap();
        let read = match read_log(&path.display().to_string(), &bytes, RecoveryMode::TolerateTailCorruption) {
            Ok(r) => r,
            Err(e) if e.is_truncation() => continue, // created, header never written: no entries
            Err(e) => panic!("{name} must read without corruption: {e}"),
        };
        for r in read.entries {
            found.push(Found { file: name.clone(), offset: r.offset, entry: r.entry });
        }
        tails.push((name, read.tail));
    }
    (found, tails)
}

/// Asserts per-region seqids strictly increase in file order, allowing an entry to repeat
/// only as a re-write of the same txid after a writer failure. Returns the set of
/// (region, seqid) present.
pub fn check_order(found: &[Found]) -> HashSet<(String, u64)> {
    let mut last: HashMap<String, (u64, u64)> = HashMap::new();
    let mut present = HashSet::new();
    for f in found {
        let region = f.entry.key.region.as_str().to_string();
        let (seqid, txid) = (f.entry.key.seqid, f.entry.txid);
        if let Some(&(ls, lt)) = last.get(&region) {
            let rewrite = seqid <= ls
                && found.iter().any(|o| o.entry.txid == txid && o.entry.key.seqid == seqid && !std::ptr::eq(o, f));
            assert!(
                seqid > ls || rewrite,
                "region {region}: seqid {seqid} (txid {txid}) after {ls} (txid {lt}) in {}",
                f.file
            );
            if seqid < ls {
                continue;
            }
        }
        last.insert(region.clone(), (seqid, txid));
        present.insert((region, seqid));
    }
    present
}

/// Runs `f` on a thread and fails the test if it does not finish within `limit` (a hang).
pub fn within<T: Send + 'static>(limit: Duration, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).unwrap_or_else(|_| panic!("{what} did not finish within {limit:?}: a hang"))
}

/// Defines `$name::scheduled` and `$name::classic`: the same test body, with `$p` bound to
/// each pipeline.
#[macro_export]
macro_rules! both_pipelines {
    ($(#[$m:meta])* fn $name:ident($p:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $(#[$m])*
            #[test]
            fn scheduled() {
                let $p = hwal::Pipeline::Scheduled;
                $body
            }
            $(#[$m])*
            #[test]
            fn classic() {
                let $p = hwal::Pipeline::Classic;
                $body
            }
        }
    };
}

/// A running `hwal load` (started with `args` after `load`) and the `ACK <region> <seqid>`
/// lines it has printed so far, read by a thread of its own.
pub struct Load {
    child: std::process::Child,
    acks: std::sync::Arc<std::sync::Mutex<Vec<(String, u64)>>>,
    reader: std::thread::JoinHandle<()>,
}

impl Load {
    /// Starts `hwal load <args>`.
    pub fn start(args: &[&str]) -> Load {
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};
        let mut child = Command::new(env!("CARGO_BIN_EXE_hwal"))
            .arg("load")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start hwal load");
        let stdout = child.stdout.take().expect("piped stdout");
        let acks = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = acks.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let parts: Vec<&str> = line.split_whitespace().collect();
                if let ["ACK", region, seqid] = parts[..] {
                    let seqid = seqid.parse::<u64>().expect("numeric seqid in an ACK line");
                    seen.lock().unwrap().push((region.to_string(), seqid));
                }
            }
        });
        Load { child, acks, reader }
    }

    /// ACK lines read so far.
    pub fn acks_so_far(&self) -> usize {
        self.acks.lock().unwrap().len()
    }

    /// Kills the load with SIGKILL, checks it did not exit on its own, and returns every ACK
    /// it printed.
    pub fn kill(mut self) -> Vec<(String, u64)> {
        self.child.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix.
        let status = self.child.wait().unwrap();
        self.reader.join().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(&mut self.child.stderr.take().unwrap(), &mut err).unwrap();
        assert!(!status.success(), "load must have been killed, not exited: {err}");
        let acks = self.acks.lock().unwrap().clone();
        acks
    }
}
