//! Generated deployment files stay what their generator makes:
//! `deploy/compose/nginx.conf` is `falcon cluster nginx-conf` with the
//! arguments below (the one nginx template, shared with `falcon cluster up
//! --nginx`), and that template, rendered for this machine, passes the real
//! `nginx -t`.

mod common;

use std::process::Command;

use common::{falcon_command, missing, workspace};

/// The arguments deploy/README.md gives to regenerate the compose file.
const COMPOSE_ARGS: &[&str] = &[
    "--upstream",
    "falcon:8000",
    "--listen",
    "8080",
    "--status-listen",
    "8081",
    "--status-allow",
    "127.0.0.1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16",
    "--processes",
    "1",
];

fn render(args: &[&str]) -> String {
    let out = falcon_command()
        .args(["cluster", "nginx-conf"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn compose_nginx_conf_is_the_templates_output() {
    let committed = std::fs::read_to_string(workspace().join("deploy/compose/nginx.conf")).unwrap();
    assert_eq!(
        render(COMPOSE_ARGS),
        committed,
        "deploy/compose/nginx.conf is stale: regenerate it with `falcon cluster nginx-conf {} --out deploy/compose/nginx.conf`",
        COMPOSE_ARGS.join(" ")
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn rendered_template_passes_nginx_t() {
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(nginx) =
        nginx.or_else(|| missing("rendered_template_passes_nginx_t", "nginx is not installed"))
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    // The compose arguments, with this machine's paths and a resolvable upstream.
    let mut args: Vec<String> = COMPOSE_ARGS.iter().map(|s| s.to_string()).collect();
    args[1] = "127.0.0.1:1".into();
    args[3] = format!("127.0.0.1:{}", free_port());
    args[5] = format!("127.0.0.1:{}", free_port());
    for (flag, value) in [
        ("--pid", format!("{d}/nginx.pid")),
        ("--error-log", format!("{d}/error.log")),
        ("--temp-dir", d.clone()),
    ] {
        args.push(flag.into());
        args.push(value);
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let conf = dir.path().join("nginx.conf");
    std::fs::write(&conf, render(&argv)).unwrap();
    let out = Command::new(nginx)
        .args(["-t", "-q", "-p"])
        .arg(dir.path())
        .arg("-c")
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn nginx_conf_refuses_bad_arguments() {
    let out = falcon_command()
        .args(["cluster", "nginx-conf", "--upstream", "falcon"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected HOST:PORT"));
}
