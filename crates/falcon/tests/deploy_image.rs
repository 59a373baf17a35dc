//! The container image, run without a container engine (none runs on the
//! machines this is built and tested on). The test reads the final stage of
//! the root `Dockerfile` — its `COPY`s, `WORKDIR`, `ENV`, `USER`, `EXPOSE`,
//! `HEALTHCHECK`, `STOPSIGNAL`, `ENTRYPOINT` and `CMD` — lays out the
//! image's filesystem under a temporary directory (`/app/models` →
//! TMP/app/models, `/usr/local/bin/falcon` → TMP/usr/local/bin/falcon, the
//! data volume owned by the image's user), sets exactly the image's
//! environment (absolute paths rebased under TMP; `FALCON_ADDR` on a free
//! port, as `docker run -e FALCON_ADDR=…` would), and runs the entrypoint
//! as the image's non-root uid (`setpriv`, when the test runs as root).
//! Then: `/readyz`, a prediction, the repository API off, the HEALTHCHECK
//! command itself (passes while serving, fails once stopped), and the stop
//! signal → exit 0.
//!
//! Not covered (see deploy/README.md): the build stages, the base images,
//! and the kernel's view of the container (namespaces, read-only layers).

mod common;
mod deploy;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Client, ci, workspace};
use deploy::{json_headers, spawn_ready};

/// One instruction of the Dockerfile: keyword (upper case) and the rest.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if current.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        if t.starts_with('#') {
            continue; // a comment inside a continued instruction
        }
        match t.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(t);
                let (kw, rest) = current
                    .split_once(char::is_whitespace)
                    .unwrap_or((&current, ""));
                out.push((kw.to_ascii_uppercase(), rest.trim().to_owned()));
                current.clear();
            }
        }
    }
    out
}

/// `K=V K2="V 2"` (the ENV form the Dockerfile uses).
fn env_pairs(rest: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            value = chars.by_ref().take_while(|c| *c != '"').collect();
        } else {
            while let Some(c) = chars.peek().copied() {
                if c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        assert!(!key.is_empty() && !key.contains(' '), "ENV form: {rest}");
        pairs.push((key, value));
    }
    pairs
}

fn json_array(rest: &str) -> Vec<String> {
    serde_json::from_str(rest)
        .unwrap_or_else(|e| panic!("expected the exec (JSON array) form, got {rest:?}: {e}"))
}

/// The final stage of the Dockerfile, as the test needs it.
#[derive(Debug, Default)]
struct Image {
    copies: Vec<(Option<String>, String, String)>,
    workdir: String,
    env: Vec<(String, String)>,
    user: (u32, u32),
    expose: Vec<u16>,
    healthcheck: Vec<String>,
    stopsignal: String,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    volumes: Vec<String>,
}

fn final_stage(dockerfile: &str) -> Image {
    let all = instructions(dockerfile);
    let last_from = all.iter().rposition(|(k, _)| k == "FROM").expect("FROM");
    let mut image = Image::default();
    for (kw, rest) in &all[last_from + 1..] {
        match kw.as_str() {
            "COPY" => {
                let mut from = None;
                let mut words: Vec<&str> = Vec::new();
                for w in rest.split_whitespace() {
                    if let Some(stage) = w.strip_prefix("--from=") {
                        from = Some(stage.to_owned());
                    } else {
                        assert!(!w.starts_with("--"), "COPY option {w} not understood");
                        words.push(w);
                    }
                }
                assert_eq!(words.len(), 2, "COPY SRC DEST: {rest}");
                image
                    .copies
                    .push((from, words[0].to_owned(), words[1].to_owned()));
            }
            "WORKDIR" => image.workdir = rest.clone(),
            "ENV" => image.env.extend(env_pairs(rest)),
            "USER" => {
                let (u, g) = rest.split_once(':').expect("USER uid:gid (numeric)");
                image.user = (
                    u.parse().expect("numeric uid"),
                    g.parse().expect("numeric gid"),
                );
            }
            "EXPOSE" => image.expose.extend(
                rest.split_whitespace()
                    .map(|p| p.parse::<u16>().expect("EXPOSE port")),
            ),
            "HEALTHCHECK" => {
                let at = rest.find("CMD ").expect("HEALTHCHECK ... CMD");
                image.healthcheck = json_array(&rest[at + 4..]);
            }
            "STOPSIGNAL" => image.stopsignal = rest.clone(),
            "ENTRYPOINT" => image.entrypoint = json_array(rest),
            "CMD" => image.cmd = json_array(rest),
            "VOLUME" => image.volumes = json_array(rest),
            "RUN" | "LABEL" | "ARG" => {}
            other => panic!("instruction {other} in the final stage is not modelled by this test"),
        }
    }
    image
}

/// `/x/y` → `root/x/y`.
fn rebase(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            copy_tree(&e.path(), &to.join(e.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn dockerfile_is_what_the_deployments_expect() {
    let text = std::fs::read_to_string(workspace().join("Dockerfile")).unwrap();
    let image = final_stage(&text);
    let env: BTreeMap<_, _> = image.env.iter().cloned().collect();
    assert_eq!(image.entrypoint, ["/usr/local/bin/falcon"]);
    assert_eq!(image.cmd, ["serve"]);
    assert_eq!(image.stopsignal, "SIGTERM");
    assert_ne!(image.user.0, 0, "non-root");
    let port: u16 = env["FALCON_ADDR"]
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        env["FALCON_ADDR"].starts_with("0.0.0.0:"),
        "every interface"
    );
    assert_eq!(image.expose, [port], "EXPOSE matches FALCON_ADDR");
    // The bind guard would refuse 0.0.0.0 with the repository API open
    // and no keys: the image's own default must be one of the ways out.
    assert!(
        env.get("FALCON_AUTH").map(String::as_str) == Some("required")
            || env.get("FALCON_REPOSITORY_ROUTES").map(String::as_str) == Some("off"),
        "{env:?}"
    );
    assert!(image.volumes.contains(&env["FALCON_DATA_DIR"]));
    let builds: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.contains("cargo build")
                || l.contains("cargo chef cook")
                || l.contains("cargo install")
        })
        .collect();
    assert_eq!(builds.len(), 3, "{builds:?}");
    for line in builds {
        assert!(line.contains("--locked"), "reproducible: {line}");
    }
    assert!(text.contains("FROM rust:1.95"), "the workspace's toolchain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_layout_serves_as_the_container_would() {
    let text = std::fs::read_to_string(workspace().join("Dockerfile")).unwrap();
    let image = final_stage(&text);
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();

    // The filesystem: every COPY of the final stage.
    for (from, src, dest) in &image.copies {
        let source = match from.as_deref() {
            Some("builder") => {
                assert!(
                    src.ends_with("/falcon"),
                    "the builder stage ships the binary: {src}"
                );
                PathBuf::from(env!("CARGO_BIN_EXE_falcon"))
            }
            Some(other) => panic!("COPY --from={other} is not modelled"),
            None => workspace().join(src),
        };
        let target = rebase(root, dest);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        copy_tree(&source, &target);
    }
    let workdir = rebase(root, &image.workdir);
    assert!(workdir.is_dir(), "WORKDIR {} exists", image.workdir);

    // The environment: exactly the image's, absolute paths rebased, on a
    // free port (the port is the image's business only through FALCON_ADDR).
    let port = free_port();
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in &image.env {
        let v = if v.starts_with('/') {
            rebase(root, v).display().to_string()
        } else {
            v.clone()
        };
        env.insert(k.clone(), v);
    }
    env.insert("FALCON_ADDR".into(), format!("0.0.0.0:{port}"));
    env.insert("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into());

    // The data volume, owned by the image's user as the Dockerfile makes it.
    let data = PathBuf::from(&env["FALCON_DATA_DIR"]);
    std::fs::create_dir_all(&data).unwrap();
    let (uid, gid) = image.user;
    let as_root = rustix::process::geteuid().is_root();
    if as_root {
        std::os::unix::fs::chown(&data, Some(uid), Some(gid)).unwrap();
    }

    // ENTRYPOINT + CMD, as the image's user.
    let argv: Vec<String> = image
        .entrypoint
        .iter()
        .chain(&image.cmd)
        .map(|a| {
            if a.starts_with('/') {
                rebase(root, a).display().to_string()
            } else {
                a.clone()
            }
        })
        .collect();
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let mut cmd = match (as_root, setpriv) {
        (true, Some(setpriv)) => {
            let mut c = Command::new(setpriv);
            c.arg(format!("--reuid={uid}"))
                .arg(format!("--regid={gid}"))
                .arg("--clear-groups")
                .arg("--")
                .args(&argv);
            c
        }
        (true, None) => {
            assert!(
                !ci(),
                "CI=true but setpriv (util-linux) is missing: cannot run as uid {uid}"
            );
            eprintln!("NOTE: setpriv missing; running the image's entrypoint as root");
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        }
        (false, _) => {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        }
    };
    cmd.env_clear().envs(&env).current_dir(&workdir);
    let mut falcon = spawn_ready(cmd).await;
    if as_root && setpriv.is_some() {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", falcon.proc.pid())).unwrap();
        let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
        assert!(
            uid_line
                .split_whitespace()
                .skip(1)
                .all(|u| u == uid.to_string()),
            "runs as {uid}: {uid_line}"
        );
    }

    let mut c = Client::new(falcon.addr);
    let r = c
        .send(
            "POST",
            "/predict",
            &json_headers(),
            br#"{"text":"WIN a FREE prize now, click here"}"#,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["model"], "spam");
    assert!(v["label"].is_string(), "{v}");
    let r = c
        .send("POST", "/v2/repository/index", &json_headers(), b"{}")
        .await
        .unwrap();
    assert_eq!(r.status, 404, "the image's default: repository API off");

    // The HEALTHCHECK command, with the container's environment.
    let healthcheck = || {
        Command::new(&image.healthcheck[0])
            .args(&image.healthcheck[1..])
            .env_clear()
            .envs(&env)
            .status()
            .expect("run the HEALTHCHECK command")
    };
    assert!(healthcheck().success(), "HEALTHCHECK passes while serving");

    // The prediction log is written by the non-root user in the volume.
    assert!(
        common::wait_for(Duration::from_secs(30), async || {
            std::fs::read_dir(&data).is_ok_and(|mut d| d.next().is_some())
        })
        .await,
        "the data volume is written"
    );

    assert_eq!(image.stopsignal, "SIGTERM");
    let status = falcon.terminate(Duration::from_secs(40)).await;
    assert!(status.success(), "{status}: {}", falcon.log_text());
    assert!(!healthcheck().success(), "HEALTHCHECK fails once stopped");
}
