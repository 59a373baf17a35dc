//! The one nginx template: `falcon cluster up --nginx` renders it for local
//! workers, `falcon cluster nginx-conf` for any other deployment (the
//! compose stack's `deploy/compose/nginx.conf` is its output, checked by a
//! test). What differs between the two is only *where* nginx runs (paths,
//! listen addresses, who may read stub_status) and *which* upstreams; the
//! balancing (least_conn, keepalive 32, HTTP/1.1 upstream keep-alive) and
//! the retry policy are the template's, so a deployment cannot drift from
//! what the benchmarks measured.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

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
            proxy_connect_timeout 1s;
            proxy_read_timeout 30s;
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
/// upstreams are not local workers (compose services, hosts).
#[derive(clap::Args, Debug, Clone)]
pub struct NginxConfArgs {
    /// An upstream `HOST:PORT` (repeat; a host name resolving to several
    /// addresses, such as a scaled compose service, adds each of them).
    #[arg(
        long = "upstream",
        env = "FALCON_NGINX_UPSTREAMS",
        value_delimiter = ',',
        required = true
    )]
    pub upstreams: Vec<String>,
    /// `listen` of the public server.
    #[arg(long, env = "FALCON_NGINX_LISTEN", default_value = "8080")]
    pub listen: String,
    /// `listen` of the stub_status server.
    #[arg(
        long,
        env = "FALCON_NGINX_STATUS_LISTEN",
        default_value = "127.0.0.1:8081"
    )]
    pub status_listen: String,
    /// Who may read stub_status (repeat; address or CIDR).
    #[arg(
        long = "status-allow",
        env = "FALCON_NGINX_STATUS_ALLOW",
        value_delimiter = ',',
        default_value = "127.0.0.1"
    )]
    pub status_allow: Vec<String>,
    /// nginx worker processes.
    #[arg(long, env = "FALCON_NGINX_PROCESSES", default_value_t = 1)]
    pub processes: usize,
    #[arg(long, env = "FALCON_NGINX_PID", default_value = "/tmp/nginx.pid")]
    pub pid: String,
    #[arg(long, env = "FALCON_NGINX_ERROR_LOG", default_value = "/dev/stderr")]
    pub error_log: String,
    /// Directory for nginx's temp paths (must exist).
    #[arg(
        long,
        env = "FALCON_NGINX_TEMP_DIR",
        default_value = "/var/cache/nginx"
    )]
    pub temp_dir: String,
    /// Write here instead of standard output.
    #[arg(long, env = "FALCON_NGINX_OUT", value_name = "FILE")]
    pub out: Option<PathBuf>,
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
    pub fn site(&self) -> anyhow::Result<NginxSite> {
        for u in &self.upstreams {
            check_word("--upstream", u)?;
            let port = u.rsplit_once(':').map(|(_, p)| p);
            if port
                .and_then(|p| p.parse::<u16>().ok())
                .is_none_or(|p| p == 0)
            {
                bail!("--upstream {u:?}: expected HOST:PORT");
            }
        }
        for a in &self.status_allow {
            check_word("--status-allow", a)?;
        }
        for (flag, v) in [
            ("--listen", &self.listen),
            ("--status-listen", &self.status_listen),
            ("--pid", &self.pid),
            ("--error-log", &self.error_log),
            ("--temp-dir", &self.temp_dir),
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
            pid: self.pid.clone(),
            error_log: self.error_log.clone(),
            temp_dir: self.temp_dir.clone(),
            listen: self.listen.clone(),
            status_listen: self.status_listen.clone(),
            status_allow: self.status_allow.clone(),
            upstreams: self.upstreams.clone(),
        })
    }
}

pub fn run(args: &NginxConfArgs) -> anyhow::Result<ExitCode> {
    let conf = render(&args.site()?);
    match &args.out {
        Some(path) => {
            std::fs::write(path, conf).with_context(|| format!("writing {}", path.display()))?
        }
        None => print!("{conf}"),
    }
    Ok(ExitCode::SUCCESS)
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

    fn parse(argv: &[&str]) -> NginxConfArgs {
        let mut full = vec!["nginx-conf"];
        full.extend_from_slice(argv);
        Cli::try_parse_from(full).unwrap().args
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
        let public = &conf[conf.find("listen 8080;").unwrap()..];
        assert!(!public.contains("stub_status"));
    }

    #[test]
    fn refuses_what_would_break_the_file() {
        for bad in [
            vec!["--upstream", "falcon"],
            vec!["--upstream", "falcon:0"],
            vec!["--upstream", "a:1; evil"],
            vec!["--upstream", "a:1", "--listen", "80;"],
            vec!["--upstream", "a:1", "--status-allow", "all; allow"],
        ] {
            assert!(parse(&bad).site().is_err(), "{bad:?}");
        }
    }
}
