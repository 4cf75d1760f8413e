// SPDX-License-Identifier: GPL-2.0
//! The guest runner's kmemleak attribution (qemu-test/guest/run-tests.sh, debug kernel).
//!
//!   kmemleak_report new SEEN [LISTING]
//!       The objects of LISTING (default /sys/kernel/debug/kmemleak) whose key (address,
//!       size, allocation jiffies) is not in the file SEEN; their keys are appended to it.
//!       kmemleak's listing is never cleared, so nested runners hide nothing from this one.
//!   kmemleak_report annotate PIDMAP SYMDIR CURRENT IGNORE < LISTING
//!       The listing with, after each object's "comm ..., pid N" line, the test whose pid
//!       range holds N (PIDMAP lines: "FIRST LAST NAME"; pids are handed out in increasing
//!       order), and the bare addresses of its backtrace resolved against the module symbols
//!       that test saved (SYMDIR/NAME: /proc/kallsyms lines, a "# load" line before each
//!       load; for an object of no test, CURRENT's), as every test unloads its modules before
//!       the scan. Objects allocated by a pid of an IGNORE range ("FIRST LAST REASON", the
//!       runner self-check's deliberate leak) are left out, with a count on stderr.

use std::collections::{HashMap, HashSet};
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::process::ExitCode;

/// How far past a symbol an address may be and still be attributed to it.
const MAX_SYMBOL_OFFSET: u64 = 65536;

/// One object of a kmemleak listing: its lines, as printed.
struct Object {
    lines: Vec<String>,
}

impl Object {
    /// The object's identity across scans: address, size and allocation jiffies.
    fn key(&self) -> String {
        let mut words = self.lines[0].split_whitespace();
        let addr = words.nth(2).unwrap_or("");
        let size = words.nth(1).unwrap_or("");
        let jiffies = self
            .lines
            .iter()
            .find_map(|l| l.strip_prefix("  comm ")?.split("jiffies ").nth(1))
            .map(|j| j.split(|c: char| !c.is_ascii_digit()).next().unwrap_or(""))
            .unwrap_or("");
        format!("{addr} {size} {jiffies}").trim_end().to_string()
    }

    /// The pid of the task that allocated it.
    fn pid(&self) -> Option<u32> {
        self.lines.iter().find_map(|l| {
            let rest = l.strip_prefix("  comm ")?.split(", pid ").nth(1)?;
            rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
        })
    }
}

/// Splits a listing into its objects (each starts with "unreferenced object").
fn objects(listing: &str) -> Vec<Object> {
    let mut out: Vec<Object> = Vec::new();
    for line in listing.lines() {
        if line.starts_with("unreferenced object") || out.is_empty() {
            out.push(Object { lines: Vec::new() });
        }
        if let Some(obj) = out.last_mut() {
            obj.lines.push(line.to_string());
        }
    }
    out.retain(|o| o.lines[0].starts_with("unreferenced object"));
    out
}

/// Pid ranges: (first, last, name) per line of `path`; a missing file has none.
fn ranges(path: &str) -> Vec<(u32, u32, String)> {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let first = w.next()?.parse().ok()?;
            let last = w.next()?.parse().ok()?;
            Some((first, last, w.next().unwrap_or("").to_string()))
        })
        .collect()
}

/// The module symbols one test saved: sorted by address, and how many loads it saved.
struct Symbols {
    sorted: Vec<(u64, String)>,
    loads: usize,
}

impl Symbols {
    fn load(path: &str) -> Self {
        let text = fs::read_to_string(path).unwrap_or_default();
        let mut sorted = Vec::new();
        let mut loads = 0;
        for line in text.lines() {
            if line.starts_with('#') {
                loads += 1;
                continue;
            }
            let w: Vec<&str> = line.split_whitespace().collect();
            if let (Some(addr), Some(name)) = (w.first(), w.get(2)) {
                if let Ok(addr) = u64::from_str_radix(addr, 16) {
                    let module = w.get(3).copied().unwrap_or("");
                    sorted.push((addr, format!("{name} {module}").trim_end().to_string()));
                }
            }
        }
        sorted.sort();
        Self { sorted, loads }
    }

    /// "name+0xOFF [module]" of the closest symbol at or below `addr`.
    fn resolve(&self, addr: u64) -> Option<String> {
        let i = self.sorted.partition_point(|(a, _)| *a <= addr).checked_sub(1)?;
        let (base, name) = &self.sorted[i];
        let off = addr - base;
        if off > MAX_SYMBOL_OFFSET {
            return None;
        }
        let (func, module) = name.split_once(' ').unwrap_or((name, ""));
        Some(format!("{func}+0x{off:x} {module}").trim_end().to_string())
    }
}

fn new(seen: &str, listing: &str) -> io::Result<()> {
    let text = fs::read_to_string(listing)?;
    let old: HashSet<String> = fs::read_to_string(seen)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let mut keys = OpenOptions::new().create(true).append(true).open(seen)?;
    let mut out = io::stdout().lock();
    for obj in objects(&text) {
        let key = obj.key();
        if old.contains(&key) {
            continue;
        }
        for line in &obj.lines {
            writeln!(out, "{line}")?;
        }
        writeln!(keys, "{key}")?;
    }
    Ok(())
}

fn annotate(pidmap: &str, symdir: &str, current: &str, ignore: &str) -> io::Result<()> {
    let tests = ranges(pidmap);
    let ignored_ranges = ranges(ignore);
    let mut listing = String::new();
    io::stdin().lock().read_to_string(&mut listing)?;
    let mut symbols: HashMap<String, Symbols> = HashMap::new();
    let mut ignored = 0;
    let mut out = io::stdout().lock();
    for obj in objects(&listing) {
        let pid = obj.pid();
        let within = |r: &&(u32, u32, String)| pid.is_some_and(|p| p >= r.0 && p <= r.1);
        if ignored_ranges.iter().any(|r| within(&r)) {
            ignored += 1;
            continue;
        }
        // The last range that holds the pid: a nested runner's test lies inside its own.
        let test = tests.iter().rev().find(within).map(|r| r.2.as_str());
        let owner = test.unwrap_or(current);
        for line in &obj.lines {
            if line.starts_with("  comm ") && pid.is_some() {
                writeln!(out, "{line}  [allocated during: {}]", test.unwrap_or("no test"))?;
                continue;
            }
            let bare = line
                .strip_prefix("    0x")
                .filter(|h| !h.is_empty() && h.bytes().all(|c| c.is_ascii_hexdigit()));
            let resolved = bare.and_then(|hex| {
                let addr = u64::from_str_radix(hex, 16).ok()?;
                let syms = symbols
                    .entry(owner.to_string())
                    .or_insert_with(|| Symbols::load(&format!("{symdir}/{owner}")));
                Some((syms.resolve(addr)?, syms.loads))
            });
            match resolved {
                Some((at, loads)) if loads > 1 => writeln!(
                    out,
                    "{line}  ({at}, as loaded in {owner}, one of its {loads} loads: may be another function)"
                )?,
                Some((at, _)) => writeln!(out, "{line}  ({at}, as loaded in {owner})")?,
                None => writeln!(out, "{line}")?,
            }
        }
    }
    if ignored > 0 {
        eprintln!("kmemleak: {ignored} objects of a deliberate leak ({ignore}) left out");
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["new", seen] => new(seen, "/sys/kernel/debug/kmemleak"),
        ["new", seen, listing] => new(seen, listing),
        ["annotate", pidmap, symdir, current, ignore] => annotate(pidmap, symdir, current, ignore),
        _ => {
            eprintln!(
                "usage: kmemleak_report new SEEN [LISTING] | annotate PIDMAP SYMDIR CURRENT IGNORE"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kmemleak_report: {e}");
            ExitCode::FAILURE
        }
    }
}
