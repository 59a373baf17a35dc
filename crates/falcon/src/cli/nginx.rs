//! The one nginx template: `falcon cluster up --nginx` renders it for local
//! workers, `falcon cluster nginx-conf` for any other deployment (the
//! compose stack's `deploy/compose/nginx.conf` is its output, checked by a
//! test). What differs between the two is only *where* nginx runs (paths,
//! listen addresses, who may read stub_status) and *which* upstreams; the
//! balancing (least_conn, keepalive 32, HTTP/1.1 upstream keep-alive) and
//! the retry policy are the template's, so a deployment cannot drift from
//! what the benchmarks measured.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use falcon_server::parse_duration;

/// How long nginx waits for a worker's answer before it retries elsewhere
/// (`proxy_read_timeout`) unless told otherwise. A link that dies
/// mid-request is only noticed by this timeout (nothing comes back, not
/// even a reset), so it bounds how long such a request stalls before the
/// retry.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Where an nginx built from the template runs.
#[derive(Debug, Clone, PartialEq)]
pub struct NginxSite {
    /// First comment lines (without `# `): who generated the file.
    pub header: Vec<String>,
    pub processes: usize,
    pub pid: String,
    pub error_log: String,
    /// Directory of the client-body/proxy/... temp paths.
    pub temp_dir: String,
    /// `listen` of the public server, e.g. `127.0.0.1:8080` or `8080`.
    pub listen: String,
    /// `listen` of the stub_status server.
    pub status_listen: String,
    /// Who may read stub_status (`allow` lines; everything else is denied).
    pub status_allow: Vec<String>,
    /// `host:port` of each upstream server.
    pub upstreams: Vec<String>,
    /// `proxy_read_timeout` (at least 1 ms; whole seconds or milliseconds).
    pub read_timeout: Duration,
}

/// Renders the template.
pub fn render(site: &NginxSite) -> String {
    let mut header = String::new();
    for line in &site.header {
        let _ = writeln!(header, "# {line}");
    }
    let servers: String = site
        .upstreams
        .iter()
        .map(|u| format!("        server {u} max_fails=1 fail_timeout=2s;\n"))
        .collect();
    let allow: String = site
        .status_allow
        .iter()
        .map(|a| format!("            allow {a};\n"))
        .collect();
    // nginx takes whole seconds or milliseconds.
    let read_timeout = if site.read_timeout.subsec_millis() == 0 {
        format!("{}s", site.read_timeout.as_secs().max(1))
    } else {
        format!("{}ms", site.read_timeout.as_millis())
    };
    format!(
        r#"{header}worker_processes {procs};
pid {pid};
error_log {error_log} warn;
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    # Request bodies (e-mails) stay in memory.
    client_body_buffer_size 2m;
    client_max_body_size 2m;

    upstream falcon {{
        least_conn;
{servers}        keepalive 32;
    }}

    # stub_status for prometheus-nginx-exporter: its own port, never
    # reachable through the public listener.
    server {{
        listen {status_listen};
        location = /stub_status {{
            stub_status;
{allow}            deny all;
        }}
        location / {{
            return 404;
        }}
    }}

    server {{
        listen {listen};

        location / {{
            proxy_pass http://falcon;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Request-Id $request_id;
            # A refused connection, a reset or a 502/503 from one worker is
            # retried on another (POST /predict is safe to repeat).
            proxy_next_upstream error timeout http_502 http_503 non_idempotent;
            proxy_next_upstream_tries 3;
            # A worker host that vanished (link down: SYNs go unanswered)
            # costs one second before the next worker is tried.
            proxy_connect_timeout 1s;
            # A request already sent when the link died is retried after this.
            proxy_read_timeout {read_timeout};
        }}
    }}
}}
"#,
        procs = site.processes.max(1),
        pid = site.pid,
        error_log = site.error_log,
        tmp = site.temp_dir,
        status_listen = site.status_listen,
        listen = site.listen,
    )
}

/// `falcon cluster nginx-conf`: the template for a deployment whose
/// upstreams are not local workers (compose services, other hosts).
#[derive(clap::Args, Debug, Clone)]
pub struct NginxConfArgs {
    /// An upstream `HOST:PORT` (repeat, or comma-separated; a host name
    /// resolving to several addresses, such as a scaled compose service,
    /// adds each of them; IPv6 in brackets).
    #[arg(
        long = "upstream",
        env = "FALCON_CLUSTER_UPSTREAMS",
        value_delimiter = ',',
        required = true,
        value_parser = upstream
    )]
    pub upstreams: Vec<String>,
    /// `listen` of the public server: `PORT` (all addresses) or `HOST:PORT`.
    #[arg(long, env = "FALCON_CLUSTER_NGINX_LISTEN", default_value = "8080", value_parser = listen)]
    pub listen: String,
    /// `listen` of the stub_status server (`PORT` or `HOST:PORT`; not the
    /// public port).
    #[arg(
        long,
        env = "FALCON_CLUSTER_NGINX_STATUS_LISTEN",
        default_value = "127.0.0.1:8081",
        value_parser = listen
    )]
    pub status_listen: String,
    /// Who may read stub_status (repeat; address or CIDR).
    #[arg(
        long = "status-allow",
        env = "FALCON_CLUSTER_NGINX_STATUS_ALLOW",
        value_delimiter = ',',
        default_value = "127.0.0.1"
    )]
    pub status_allow: Vec<String>,
    /// nginx worker processes.
    #[arg(long, env = "FALCON_CLUSTER_NGINX_PROCESSES", default_value_t = 1)]
    pub processes: usize,
    /// How long nginx waits for a worker's answer before retrying on the
    /// next one: the longest a request sent into a dead link stalls. Keep
    /// it above the workers' --request-timeout (10s by default), which
    /// bounds every answer.
    #[arg(long, env = "FALCON_CLUSTER_NGINX_READ_TIMEOUT", default_value = "30s",
          value_parser = read_timeout)]
    pub read_timeout: Duration,
    /// Put nginx's pid file, error log and temp directories (created) under
    /// DIR and write DIR/nginx.conf, for `nginx -p DIR -c DIR/nginx.conf`
    /// (--pid, --error-log, --temp-dir and --out still override).
    #[arg(long, env = "FALCON_CLUSTER_NGINX_RUN_DIR", value_name = "DIR")]
    pub run_dir: Option<PathBuf>,
    /// nginx's pid file [default: /tmp/nginx.pid, or DIR/nginx.pid].
    #[arg(long, env = "FALCON_CLUSTER_NGINX_PID")]
    pub pid: Option<String>,
    /// nginx's error log [default: /dev/stderr, or DIR/nginx-error.log].
    #[arg(long, env = "FALCON_CLUSTER_NGINX_ERROR_LOG")]
    pub error_log: Option<String>,
    /// Directory for nginx's temp paths (must exist) [default:
    /// /var/cache/nginx, or DIR/nginx-tmp].
    #[arg(long, env = "FALCON_CLUSTER_NGINX_TEMP_DIR")]
    pub temp_dir: Option<String>,
    /// Write here instead of standard output (or DIR/nginx.conf).
    #[arg(long, env = "FALCON_CLUSTER_NGINX_OUT", value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `HOST:PORT` of an upstream: a host name or IP (IPv6 in brackets) and a
/// port, nothing nginx could read as more config.
fn upstream(s: &str) -> Result<String, String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{s:?}: expected HOST:PORT"))?;
    port_number(s, port)?;
    // A colon only inside brackets (an IPv6 address).
    let (bare, colons) = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => (v6, true),
        None => (host, false),
    };
    let ok = !bare.is_empty()
        && bare.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') || (colons && b == b':')
        });
    if !ok {
        return Err(format!("{s:?}: {host:?} is not a host name or IP address"));
    }
    Ok(s.to_owned())
}

fn port_number(s: &str, port: &str) -> Result<u16, String> {
    port.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("{s:?}: port {port:?} is not 1-65535"))
}

/// A `listen` address: `PORT`, `*:PORT` or `HOST:PORT` as for an upstream.
fn listen(s: &str) -> Result<String, String> {
    match s.strip_prefix("*:") {
        Some(port) => port_number(s, port).map(|_| s.to_owned()),
        None if !s.contains(':') => port_number(s, s).map(|_| s.to_owned()),
        None => upstream(s).map_err(|e| format!("{e} (expected PORT or HOST:PORT)")),
    }
}

fn listen_port(listen: &str) -> &str {
    listen.rsplit_once(':').map_or(listen, |(_, p)| p)
}

fn read_timeout(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_millis(1) {
        return Err(format!("{s:?}: nginx needs at least 1ms"));
    }
    Ok(d)
}

fn check_word(flag: &str, v: &str) -> anyhow::Result<()> {
    if v.is_empty()
        || v.chars()
            .any(|c| c.is_whitespace() || matches!(c, ';' | '{' | '}' | '#' | '"' | '\''))
    {
        bail!("{flag} {v:?}: expected one word without spaces, quotes, `;`, `{{`, `}}` or `#`");
    }
    Ok(())
}

impl NginxConfArgs {
    /// What to render: the flags, with defaults under --run-dir if given.
    pub fn site(&self) -> anyhow::Result<NginxSite> {
        if listen_port(&self.status_listen) == listen_port(&self.listen) {
            bail!(
                "--status-listen {} has the port of --listen {}: stub_status needs its own port",
                self.status_listen,
                self.listen
            );
        }
        let under = |file: &str, default: &str| match &self.run_dir {
            Some(dir) => format!("{}/{file}", dir.display()),
            None => default.to_owned(),
        };
        let pid = self
            .pid
            .clone()
            .unwrap_or_else(|| under("nginx.pid", "/tmp/nginx.pid"));
        let error_log = self
            .error_log
            .clone()
            .unwrap_or_else(|| under("nginx-error.log", "/dev/stderr"));
        let temp_dir = self
            .temp_dir
            .clone()
            .unwrap_or_else(|| under("nginx-tmp", "/var/cache/nginx"));
        for a in &self.status_allow {
            check_word("--status-allow", a)?;
        }
        for (flag, v) in [
            ("--pid", &pid),
            ("--error-log", &error_log),
            ("--temp-dir", &temp_dir),
        ] {
            check_word(flag, v)?;
        }
        let mut header = vec![
            "Generated by `falcon cluster nginx-conf` from the template `falcon cluster up".into(),
            "--nginx` uses (crates/falcon/src/cli/nginx.rs); do not edit by hand.".into(),
        ];
        header.push(format!("Upstreams: {}.", self.upstreams.join(", ")));
        Ok(NginxSite {
            header,
            processes: self.processes,
            pid,
            error_log,
            temp_dir,
            listen: self.listen.clone(),
            status_listen: self.status_listen.clone(),
            status_allow: self.status_allow.clone(),
            upstreams: self.upstreams.clone(),
            read_timeout: self.read_timeout,
        })
    }
}

pub fn run(args: &NginxConfArgs) -> anyhow::Result<ExitCode> {
    // Refuse bad flags before creating anything.
    args.site()?;
    let mut args = args.clone();
    if let Some(dir) = &args.run_dir {
        let tmp = dir.join("nginx-tmp");
        std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let dir =
            std::fs::canonicalize(dir).with_context(|| format!("resolving {}", dir.display()))?;
        args.run_dir = Some(dir);
    }
    let conf = render(&args.site()?);
    let out = args
        .out
        .clone()
        .or_else(|| args.run_dir.as_deref().map(|d| d.join("nginx.conf")));
    match out {
        Some(path) => {
            write(&path, &conf)?;
            println!("{}", path.display());
        }
        None => print!("{conf}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn write(path: &Path, conf: &str) -> anyhow::Result<()> {
    std::fs::write(path, conf).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: NginxConfArgs,
    }

    fn try_parse(argv: &[&str]) -> Result<NginxConfArgs, clap::Error> {
        let mut full = vec!["nginx-conf"];
        full.extend_from_slice(argv);
        Cli::try_parse_from(full).map(|c| c.args)
    }

    fn parse(argv: &[&str]) -> NginxConfArgs {
        try_parse(argv).unwrap()
    }

    #[test]
    fn renders_upstreams_status_and_balancing() {
        let conf = render(
            &parse(&[
                "--upstream",
                "falcon:8000",
                "--status-allow",
                "10.0.0.0/8,172.16.0.0/12",
            ])
            .site()
            .unwrap(),
        );
        assert!(
            conf.contains("server falcon:8000 max_fails=1 fail_timeout=2s;"),
            "{conf}"
        );
        assert!(conf.contains("least_conn;") && conf.contains("keepalive 32;"));
        assert!(conf.contains(
            "allow 10.0.0.0/8;\n            allow 172.16.0.0/12;\n            deny all;"
        ));
        assert!(
            conf.contains("proxy_next_upstream error timeout http_502 http_503 non_idempotent;")
        );
        assert!(conf.contains("proxy_read_timeout 30s;"));
        assert!(conf.contains("pid /tmp/nginx.pid;"));
        let public = &conf[conf.find("listen 8080;").unwrap()..];
        assert!(!public.contains("stub_status"));
    }

    #[test]
    fn workers_on_other_hosts() {
        let a = parse(&[
            "--listen",
            "10.0.1.3:8080",
            "--upstream",
            "10.0.1.11:8000,10.0.1.12:8000",
            "--upstream=w3.internal:8000",
            "--upstream=[fd00::13]:8000",
            "--read-timeout",
            "1500ms",
            "--run-dir",
            "/run/n",
        ]);
        let conf = render(&a.site().unwrap());
        for needle in [
            "listen 10.0.1.3:8080;",
            "listen 127.0.0.1:8081;",
            "server 10.0.1.11:8000 max_fails=1",
            "server 10.0.1.12:8000 max_fails=1",
            "server w3.internal:8000 max_fails=1",
            "server [fd00::13]:8000 max_fails=1",
            "proxy_read_timeout 1500ms;",
            "proxy_connect_timeout 1s;",
            "proxy_next_upstream error timeout http_502 http_503 non_idempotent;",
            "pid /run/n/nginx.pid;",
            "error_log /run/n/nginx-error.log warn;",
            "proxy_temp_path /run/n/nginx-tmp/proxy;",
        ] {
            assert!(conf.contains(needle), "{needle} missing from\n{conf}");
        }
        let s = parse(&["--upstream", "a:1", "--read-timeout", "5s"])
            .site()
            .unwrap();
        assert!(render(&s).contains("proxy_read_timeout 5s;"));
    }

    #[test]
    fn refuses_bad_upstreams_at_parse_time() {
        for bad in [
            "10.0.1.11",
            "10.0.1.11:0",
            "10.0.1.11:99999",
            ":8000",
            "a:b:8000",
            "evil;include /etc/passwd:80",
            "a:1; evil",
        ] {
            let err = try_parse(&["--listen", "10.0.1.3:8080", "--upstream", bad])
                .err()
                .unwrap_or_else(|| panic!("{bad:?} accepted"))
                .to_string();
            assert!(err.contains(bad), "{bad}: {err}");
        }
        let err = try_parse(&["--upstream", "falcon"]).err().unwrap();
        assert!(err.to_string().contains("expected HOST:PORT"), "{err}");
    }

    #[test]
    fn refuses_what_would_break_the_file() {
        for bad in [
            vec!["--upstream", "falcon:0"],
            vec!["--upstream", "a:1", "--listen", "80;"],
            vec!["--upstream", "a:1", "--listen", "0"],
            vec!["--upstream", "a:1", "--status-listen", "a b:1"],
            vec!["--upstream", "a:1", "--read-timeout", "0s"],
            vec!["--upstream", "a:1", "--read-timeout", "500us"],
        ] {
            assert!(try_parse(&bad).is_err(), "{bad:?}");
        }
        for bad in [
            vec!["--upstream", "a:1", "--status-allow", "all; allow"],
            vec!["--upstream", "a:1", "--pid", "/tmp/x;y"],
            vec!["--upstream", "a:1", "--run-dir", "/tmp/with space"],
            // stub_status must not share the public port.
            vec!["--upstream", "a:1", "--listen", "8081"],
            vec![
                "--upstream",
                "a:1",
                "--listen",
                "10.0.0.1:9000",
                "--status-listen",
                "9000",
            ],
        ] {
            assert!(parse(&bad).site().is_err(), "{bad:?}");
        }
        for good in [
            vec!["--upstream", "a:1", "--listen", "*:8080"],
            vec!["--upstream", "a:1", "--listen", "[::]:8080"],
        ] {
            parse(&good).site().unwrap();
        }
    }
}
