//! Hosts for tests as Linux network namespaces on one machine: each host
//! is a namespace with its own loopback, addresses and ports; hosts are
//! wired to "switches" (Linux bridges inside one more namespace) by veth
//! pairs, so a host's link can be taken down from the switch side, exactly
//! like pulling its cable. Nothing is added to the machine's own network
//! namespace: the test's traffic never leaves these namespaces.
//!
//! Names carry a per-run prefix (`fmh<pid>-`), so parallel runs never
//! collide; namespaces of earlier runs whose process is gone (a test
//! killed before its `Drop` ran) are swept, and only those with this
//! module's prefix. [`Net`]'s `Drop` kills whatever still runs inside its
//! namespaces and deletes them, panics included.
#![allow(dead_code)]

use std::os::fd::AsFd;
use std::process::{Command, Stdio};

/// Prefix of every namespace this module creates.
const PREFIX: &str = "fmh";

/// Runs `ip ARGS`, returning stderr on failure.
pub fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            format!(
                "running ip {}: {e} (apt-get install iproute2)",
                args.join(" ")
            )
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn must(args: &[&str]) -> String {
    ip(args).unwrap_or_else(|e| panic!("{e}"))
}

/// Whether this process may create network namespaces (root, `ip`
/// installed, kernel support): `Err(why)` when not.
pub fn usable() -> Result<(), String> {
    if !rustix::process::geteuid().is_root() {
        return Err("network namespaces need root (ip netns add)".into());
    }
    let probe = format!("{PREFIX}{}-probe", std::process::id());
    ip(&["netns", "add", &probe])?;
    let veth = ip(&[
        "-n", &probe, "link", "add", "probe0", "type", "veth", "peer", "name", "probe1",
    ]);
    let bridge = ip(&["-n", &probe, "link", "add", "probebr", "type", "bridge"]);
    let _ = ip(&["netns", "del", &probe]);
    veth.and(bridge).map(|_| ())
}

/// Deletes namespaces with this module's prefix whose creating process no
/// longer exists (left by a run that was SIGKILLed), killing what still
/// runs inside them.
fn sweep_stale() {
    let Ok(list) = ip(&["netns", "list"]) else {
        return;
    };
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        kill_inside(name);
        let _ = ip(&["netns", "del", name]);
    }
}

/// SIGKILLs every process in namespace `ns`.
fn kill_inside(ns: &str) {
    if let Ok(pids) = ip(&["netns", "pids", ns]) {
        for pid in pids.lines().filter_map(|p| p.trim().parse::<i32>().ok()) {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
    }
}

/// One run's namespaces: hosts plus the switch namespace holding the
/// bridges.
pub struct Net {
    prefix: String,
    switch: String,
    namespaces: Vec<String>,
}

impl Net {
    /// A switch namespace with one bridge per name in `bridges`.
    pub fn new(bridges: &[&str]) -> Net {
        sweep_stale();
        let prefix = format!("{PREFIX}{}-", std::process::id());
        let mut net = Net {
            switch: format!("{prefix}switch"),
            prefix,
            namespaces: Vec::new(),
        };
        let sw = net.switch.clone();
        net.add_ns(&sw);
        for b in bridges {
            must(&["-n", &sw, "link", "add", b, "type", "bridge"]);
            must(&["-n", &sw, "link", "set", b, "up"]);
        }
        net
    }

    fn add_ns(&mut self, ns: &str) {
        // A namespace of this pid is from an earlier test in this process.
        let _ = ip(&["netns", "del", ns]);
        must(&["netns", "add", ns]);
        self.namespaces.push(ns.to_owned());
        must(&["-n", ns, "link", "set", "lo", "up"]);
    }

    /// The namespace name of `host`.
    pub fn ns(&self, host: &str) -> String {
        format!("{}{host}", self.prefix)
    }

    /// Creates the host `host` (a namespace with loopback up).
    pub fn host(&mut self, host: &str) -> String {
        let ns = self.ns(host);
        self.add_ns(&ns);
        ns
    }

    /// The switch-side interface of `host`'s link to `bridge`.
    fn port(bridge: &str, host: &str) -> String {
        let name = format!("{bridge}-{host}");
        assert!(name.len() <= 15, "interface name {name} too long");
        name
    }

    /// Cables `host` to `bridge`: interface `ifname` in the host with
    /// address `cidr` (e.g. `10.77.1.11/24`).
    pub fn link(&self, host: &str, bridge: &str, ifname: &str, cidr: &str) {
        let (ns, port) = (self.ns(host), Self::port(bridge, host));
        must(&[
            "-n",
            &self.switch,
            "link",
            "add",
            &port,
            "type",
            "veth",
            "peer",
            "name",
            ifname,
            "netns",
            &ns,
        ]);
        must(&["-n", &self.switch, "link", "set", &port, "master", bridge]);
        must(&["-n", &self.switch, "link", "set", &port, "up"]);
        must(&["-n", &ns, "addr", "add", cidr, "dev", ifname]);
        must(&["-n", &ns, "link", "set", ifname, "up"]);
    }

    /// Takes `host`'s link to `bridge` down or up at the switch: from then
    /// on the host's packets on it are dropped silently, like a pulled
    /// cable (no reset, no refusal).
    pub fn set_link(&self, host: &str, bridge: &str, up: bool) {
        must(&[
            "-n",
            &self.switch,
            "link",
            "set",
            &Self::port(bridge, host),
            if up { "up" } else { "down" },
        ]);
    }

    /// `ip netns exec <host's namespace>` followed by `program`: `ip`
    /// switches namespace and then execs the program, so the child's pid
    /// is the program's own (signals reach it directly).
    pub fn command(&self, host: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns(host)]).arg(program);
        cmd
    }

    /// Moves the calling thread (and threads it spawns later) into
    /// `host`'s namespace: the sockets it opens from then on are that
    /// host's. Processes it spawns start there too.
    pub fn enter(&self, host: &str) {
        let f = std::fs::File::open(format!("/run/netns/{}", self.ns(host)))
            .expect("open the namespace");
        rustix::thread::move_into_link_name_space(
            f.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )
        .expect("setns into the client namespace");
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            kill_inside(ns);
        }
        for ns in self.namespaces.iter().rev() {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}
