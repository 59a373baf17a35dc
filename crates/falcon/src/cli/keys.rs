//! `falcon keys create|list|revoke`: API keys, stored as SHA-256 digests
//! in the log's database (SQLite in the data dir, or `--database-url`).

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use falcon_auth::{KeyStore, Rate};
use falcon_log::format_rfc3339;

use super::log::DbArgs;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it — the only time it is shown.
    Create(CreateArgs),
    /// List keys (ids, names, rates; never the keys themselves).
    List(ListArgs),
    /// Revoke a key by id; running servers refuse it within seconds.
    Revoke(RevokeArgs),
    /// Print a new random key without storing it (for a deployment's
    /// secret, stored later with `create --from-env`).
    Generate,
}

#[derive(Args)]
pub struct CreateArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Who the key is for.
    #[arg(long, env = "FALCON_KEY_NAME")]
    name: String,
    /// Token-bucket limit: `100/s`, `6000/m`, `100/s:300` (burst 300);
    /// default: unlimited.
    #[arg(long, env = "FALCON_KEY_RATE", value_parser = parse_rate)]
    rate: Option<Rate>,
    /// Allow admin routes (repository load/unload).
    #[arg(long, env = "FALCON_KEY_ADMIN")]
    admin: bool,
    /// Store the key held in this environment variable instead of a new
    /// one, idempotently: nothing is printed, and running it again with the
    /// same key succeeds without a change. The bootstrap of a deployment
    /// whose admin key comes from a secret (e.g. `--from-env
    /// FALCON_ADMIN_KEY`). The variable's name, not the key, is the
    /// argument: arguments are visible to every user in `ps`.
    #[arg(long, env = "FALCON_KEY_FROM_ENV", value_name = "VAR")]
    from_env: Option<String>,
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    db: DbArgs,
    #[arg(long, env = "FALCON_KEYS_FORMAT", value_enum, default_value = "text")]
    format: ListFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum ListFormat {
    Text,
    Json,
}

#[derive(Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    db: DbArgs,
    /// The key's id (from `falcon keys list`).
    id: String,
}

fn parse_rate(s: &str) -> Result<Rate, String> {
    s.parse().map_err(|e: falcon_auth::AuthError| e.to_string())
}

pub fn run(cmd: KeysCommand) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut out = std::io::stdout().lock();
        match cmd {
            KeysCommand::Create(a) => create(a, &mut out).await,
            KeysCommand::List(a) => list(a, &mut out).await,
            KeysCommand::Revoke(a) => revoke(a, &mut out).await,
            KeysCommand::Generate => {
                let new = falcon_auth::generate()?;
                writeln!(out, "{}", new.token)?;
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

async fn open(db: &DbArgs) -> Result<KeyStore> {
    let database = db.connect().await?;
    KeyStore::open(database)
        .await
        .with_context(|| format!("opening the key store in {}", db.describe()))
}

async fn create(a: CreateArgs, out: &mut impl Write) -> Result<ExitCode> {
    if let Some(var) = &a.from_env {
        return import(&a, var).await;
    }
    let store = open(&a.db).await?;
    let (key, token) = store.create(&a.name, a.rate, a.admin).await?;
    eprintln!(
        "created key {} ({}{}, rate {}); store it now — it cannot be shown again:",
        key.id,
        key.name,
        if key.admin { ", admin" } else { "" },
        key.rate.map_or("unlimited".to_owned(), |r| r.to_string()),
    );
    writeln!(out, "{token}")?;
    Ok(ExitCode::SUCCESS)
}

/// `create --from-env VAR`: the key comes from the environment, so it is
/// never printed (the operator already has it).
async fn import(a: &CreateArgs, var: &str) -> Result<ExitCode> {
    let token = match std::env::var(var) {
        Ok(t) if !t.trim().is_empty() => t,
        Ok(_) => bail!("--from-env {var}: the variable is empty"),
        Err(std::env::VarError::NotPresent) => bail!("--from-env {var}: the variable is not set"),
        Err(std::env::VarError::NotUnicode(_)) => {
            bail!("--from-env {var}: the variable is not valid UTF-8")
        }
    };
    store_token(a, var, &token).await
}

async fn store_token(a: &CreateArgs, var: &str, token: &str) -> Result<ExitCode> {
    let store = open(&a.db).await?;
    let (key, added) = store
        .import(&a.name, token, a.rate, a.admin)
        .await
        .with_context(|| format!("--from-env {var}"))?;
    eprintln!(
        "{} key {} ({}{}, rate {})",
        if added { "stored" } else { "already stored:" },
        key.id,
        key.name,
        if key.admin { ", admin" } else { "" },
        key.rate.map_or("unlimited".to_owned(), |r| r.to_string()),
    );
    Ok(ExitCode::SUCCESS)
}

async fn list(a: ListArgs, out: &mut impl Write) -> Result<ExitCode> {
    let store = open(&a.db).await?;
    let keys = store.list().await?;
    match a.format {
        ListFormat::Json => {
            let rows: Vec<_> = keys
                .iter()
                .map(|k| {
                    serde_json::json!({
                        "id": k.id,
                        "name": k.name,
                        "admin": k.admin,
                        "rate": k.rate.map(|r| r.to_string()),
                        "created_at": format_rfc3339(k.created_at),
                        "revoked_at": k.revoked_at.map(format_rfc3339),
                    })
                })
                .collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
        }
        ListFormat::Text => {
            let wn = keys
                .iter()
                .map(|k| k.name.chars().count())
                .max()
                .unwrap_or(0)
                .max(4);
            writeln!(
                out,
                "{:16}  {:wn$}  {:5}  {:10}  {:20}  status",
                "id", "name", "admin", "rate", "created"
            )?;
            for k in &keys {
                let created = format_rfc3339(k.created_at);
                writeln!(
                    out,
                    "{:16}  {:wn$}  {:5}  {:10}  {:20}  {}",
                    k.id,
                    k.name,
                    if k.admin { "yes" } else { "no" },
                    k.rate.map_or("unlimited".to_owned(), |r| r.to_string()),
                    &created[..19],
                    match k.revoked_at {
                        Some(t) => format!("revoked {}", &format_rfc3339(t)[..19]),
                        None => "active".to_owned(),
                    }
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn revoke(a: RevokeArgs, out: &mut impl Write) -> Result<ExitCode> {
    let store = open(&a.db).await?;
    if !store.revoke(&a.id).await? {
        bail!("no active key with id {:?}", a.id);
    }
    writeln!(out, "revoked {}", a.id)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(dir: &std::path::Path) -> DbArgs {
        DbArgs {
            database_url: None,
            data_dir: dir.to_owned(),
            database_pool: 2,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn create_list_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = Vec::new();
        let a = CreateArgs {
            db: db(dir.path()),
            name: "client".into(),
            rate: Some("100/s".parse().unwrap()),
            admin: false,
            from_env: None,
        };
        create(a, &mut out).await.unwrap();
        let token = String::from_utf8(out).unwrap().trim().to_owned();
        let id = falcon_auth::token_id(&token).unwrap().to_owned();

        let mut out = Vec::new();
        list(
            ListArgs {
                db: db(dir.path()),
                format: ListFormat::Text,
            },
            &mut out,
        )
        .await
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(&id) && text.contains("100/s") && text.contains("active"),
            "{text}"
        );
        assert!(!text.contains(&token[21..]), "the secret is never listed");

        let mut out = Vec::new();
        revoke(
            RevokeArgs {
                db: db(dir.path()),
                id: id.clone(),
            },
            &mut out,
        )
        .await
        .unwrap();
        assert!(
            revoke(
                RevokeArgs {
                    db: db(dir.path()),
                    id: id.clone(),
                },
                &mut Vec::new(),
            )
            .await
            .is_err()
        );
        let mut out = Vec::new();
        list(
            ListArgs {
                db: db(dir.path()),
                format: ListFormat::Json,
            },
            &mut out,
        )
        .await
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v[0]["id"], id);
        assert!(v[0]["revoked_at"].is_string());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn create_from_env_is_idempotent_and_strict() {
        let dir = tempfile::tempdir().unwrap();
        let token = falcon_auth::generate().unwrap().token;
        let var = "FALCON_ADMIN_KEY";
        let args = |admin: bool, var: &str| CreateArgs {
            db: db(dir.path()),
            name: "bootstrap".into(),
            rate: None,
            admin,
            from_env: Some(var.into()),
        };
        let e = create(args(true, "FALCON_TEST_KEYS_IMPORT_UNSET"), &mut Vec::new())
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains("not set"), "{e:#}");
        // A secret mounted from a file often ends with a newline.
        let with_newline = format!("{token}\n");
        for _ in 0..2 {
            store_token(&args(true, var), var, &with_newline)
                .await
                .unwrap();
        }
        let store = open(&db(dir.path())).await.unwrap();
        let keys = store.list().await.unwrap();
        assert_eq!(keys.len(), 1, "stored once");
        assert!(keys[0].admin);
        assert_eq!(keys[0].id, falcon_auth::token_id(&token).unwrap());
        let auth = falcon_auth::Authenticator::new(keys);
        assert!(auth.verify(&token).unwrap().admin);
        // Same id, another role: refused, not silently changed.
        let e = store_token(&args(false, var), var, &token)
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains("admin"), "{e:#}");
        // Same id, another secret: refused.
        let forged = format!("{}{}", &token[..21], "0".repeat(64));
        let e = store_token(&args(true, var), var, &forged)
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains("another secret"), "{e:#}");
        // Not a key at all.
        let e = store_token(&args(true, var), var, "hunter2")
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains("not an API key"), "{e:#}");
        // Revoked: a restart does not reinstate it.
        let id = falcon_auth::token_id(&token).unwrap().to_owned();
        assert!(store.revoke(&id).await.unwrap());
        let e = store_token(&args(true, var), var, &token)
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains("revoked"), "{e:#}");
    }
}
