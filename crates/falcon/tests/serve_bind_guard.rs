//! The bind guard of `falcon serve`, through the real binary: a
//! non-loopback address with `--auth off` and the repository routes on is
//! refused (exit code and message), and each way out starts —
//! `--repository-routes off`, `--auth required` with an admin key stored
//! by `falcon keys create --from-env`, and `--allow-open-repository`.

mod common;
mod deploy;

use std::time::Duration;

use common::{Client, falcon_command, models_dir};
use deploy::{bearer, json_headers, log_lines, spawn_ready};

fn serve(addr: &str) -> std::process::Command {
    let mut cmd = falcon_command();
    cmd.arg("serve")
        .args(["--addr", addr, "--log-format", "json", "--no-log"])
        .arg("--models")
        .arg(models_dir());
    cmd
}

#[test]
fn non_loopback_open_repository_is_refused() {
    for addr in ["0.0.0.0:0", "[::]:0"] {
        let out = serve(addr).output().expect("run falcon serve");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{addr}: {stderr}");
        for needed in [
            "refusing to listen on",
            "not a loopback address",
            "--auth required",
            "falcon keys create --admin",
            "--repository-routes off",
            "--allow-open-repository",
        ] {
            assert!(stderr.contains(needed), "{addr}: {needed:?} in {stderr}");
        }
        assert_eq!(
            stderr.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "one error: {stderr}"
        );
    }
    // The same through the environment, as a container sets it.
    let out = falcon_command()
        .arg("serve")
        .env("FALCON_ADDR", "0.0.0.0:0")
        .env("FALCON_NO_LOG", "true")
        .env("FALCON_MODELS", models_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to listen on 0.0.0.0:0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repository_routes_off_starts_with_open_prediction() {
    let mut cmd = serve("0.0.0.0:0");
    cmd.env("FALCON_REPOSITORY_ROUTES", "off");
    let mut falcon = spawn_ready(cmd).await;
    let info = log_lines(&falcon, "prediction is open");
    assert_eq!(info.len(), 1, "{}", falcon.log_text());
    assert_eq!(info[0]["level"], "INFO");
    let mut c = Client::new(falcon.addr);
    let r = c
        .send(
            "POST",
            "/predict",
            &json_headers(),
            br#"{"text":"win money now"}"#,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let r = c
        .send(
            "POST",
            "/v2/repository/models/spam/unload",
            &json_headers(),
            b"{}",
        )
        .await
        .unwrap();
    assert_eq!(r.status, 404, "{}", String::from_utf8_lossy(&r.body));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["error_type"], "route_not_found");
    assert!(falcon.terminate(Duration::from_secs(30)).await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_open_repository_starts_with_a_warning() {
    let mut cmd = serve("0.0.0.0:0");
    cmd.arg("--allow-open-repository");
    let mut falcon = spawn_ready(cmd).await;
    let warn = log_lines(
        &falcon,
        "ANYONE WHO REACHES THIS PORT CAN LOAD AND UNLOAD MODELS",
    );
    assert_eq!(warn.len(), 1, "{}", falcon.log_text());
    assert_eq!(warn[0]["level"], "WARN");
    let mut c = Client::new(falcon.addr);
    let r = c
        .send("POST", "/v2/repository/index", &json_headers(), b"{}")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "the override keeps the routes");
    assert!(falcon.terminate(Duration::from_secs(30)).await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_required_with_a_bootstrapped_admin_key_starts() {
    let data = tempfile::tempdir().unwrap();
    let out = falcon_command()
        .args(["keys", "generate"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    // The deployments' bootstrap, run twice (every start runs it).
    for _ in 0..2 {
        let out = falcon_command()
            .args(["keys", "create", "--admin", "--name", "admin"])
            .args(["--from-env", "FALCON_ADMIN_KEY"])
            .arg("--data-dir")
            .arg(data.path())
            .env("FALCON_ADMIN_KEY", &token)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(out.stdout.is_empty(), "the key is not printed");
        assert!(!stderr.contains(&token[21..]), "{stderr}");
    }
    let mut cmd = serve("0.0.0.0:0");
    cmd.args(["--auth", "required", "--auth-refresh", "1s"])
        .arg("--data-dir")
        .arg(data.path());
    let mut falcon = spawn_ready(cmd).await;
    assert!(log_lines(&falcon, "prediction is open").is_empty());
    assert!(log_lines(&falcon, "ANYONE").is_empty());
    let mut c = Client::new(falcon.addr);
    let r = c
        .send("POST", "/v2/repository/index", &json_headers(), b"{}")
        .await
        .unwrap();
    assert_eq!(r.status, 401);
    let r = c
        .send("POST", "/v2/repository/index", &bearer(&token), b"{}")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(falcon.terminate(Duration::from_secs(30)).await.success());
}
