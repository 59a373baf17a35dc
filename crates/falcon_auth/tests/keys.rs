//! Key store + verification on SQLite and on the real Postgres.

use std::sync::Arc;

use falcon_auth::{AuthError, Authenticator, KeyStore, Rate};
use falcon_log::{Database, DbOptions};

async fn pg_base_url(test: &str) -> Option<String> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let Ok(url) = std::env::var("FALCON_TEST_DATABASE_URL") else {
        eprintln!("SKIP {test}: FALCON_TEST_DATABASE_URL not set");
        return None;
    };
    let db = Database::connect(&url, &DbOptions::default())
        .await
        .unwrap();
    match db.pg().await {
        Ok(_) => Some(url),
        Err(e) => {
            assert!(!ci, "CI=true but Postgres is unreachable: {e}");
            eprintln!("SKIP {test}: Postgres unreachable: {e}");
            None
        }
    }
}

async fn exercise(db: Database) {
    let store = KeyStore::open(db.clone()).await.unwrap();
    // Opening twice (a second worker) is fine: migrations run once.
    let store2 = KeyStore::open(db).await.unwrap();
    let rate: Rate = "100/s:200".parse().unwrap();
    let (admin, admin_token) = store.create("ops", None, true).await.unwrap();
    let (user, user_token) = store.create("client-a", Some(rate), false).await.unwrap();
    assert!(store.create("  ", None, false).await.is_err());

    let listed = store2.list().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, admin.id);
    assert_eq!(listed[1], user);
    assert_eq!(listed[1].rate, Some(rate));
    // Only the digest is stored.
    assert!(!format!("{listed:?}").contains(&user_token[21..]));

    let auth = Arc::new(Authenticator::new(listed));
    let p = auth
        .verify_header(Some(&format!("Bearer {user_token}")))
        .unwrap();
    assert_eq!(
        (p.key_id.as_str(), p.admin, p.rate),
        (user.id.as_str(), false, Some(rate))
    );
    assert!(matches!(p.require_admin(), Err(AuthError::NotAdmin)));
    let p = auth
        .verify_header(Some(&format!("bearer  {admin_token} ")))
        .unwrap();
    assert!(p.admin && p.require_admin().is_ok());

    assert!(matches!(auth.verify_header(None), Err(AuthError::Missing)));
    assert!(matches!(
        auth.verify_header(Some(&user_token)),
        Err(AuthError::Invalid)
    ));
    assert!(matches!(
        auth.verify_header(Some("Basic abc")),
        Err(AuthError::Invalid)
    ));
    // Right id, wrong secret.
    let mut forged = user_token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    assert!(matches!(auth.verify(&forged), Err(AuthError::Invalid)));

    assert!(store.revoke(&user.id).await.unwrap());
    assert!(!store.revoke(&user.id).await.unwrap(), "already revoked");
    assert!(!store.revoke("nope").await.unwrap());
    // The snapshot is still the old one until refreshed.
    assert!(auth.verify(&user_token).is_ok());
    auth.refresh(&store2).await.unwrap();
    match auth.verify(&user_token) {
        Err(AuthError::Revoked(id)) => assert_eq!(id, user.id),
        other => panic!("{other:?}"),
    }
    assert!(auth.verify(&admin_token).is_ok());
    // A key created elsewhere appears after the background refresh.
    let refresher = auth.spawn_refresh(store2.clone(), std::time::Duration::from_millis(20));
    let (_, t3) = store.create("client-b", None, false).await.unwrap();
    let mut ok = false;
    for _ in 0..100 {
        if auth.verify(&t3).is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    refresher.abort();
    assert!(ok, "new key not picked up by the refresh task");
    let revoked = store.list().await.unwrap();
    assert!(
        revoked
            .iter()
            .find(|k| k.id == user.id)
            .unwrap()
            .revoked_at
            .is_some()
    );

    // The deployments' bootstrap: the same admin key imported by several
    // pods at once is stored once, and every import succeeds.
    let token = falcon_auth::generate().unwrap().token;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = store2.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            store.import("bootstrap", &token, None, true).await
        }));
    }
    let mut added = 0;
    for t in tasks {
        let (k, new) = t.await.unwrap().unwrap();
        assert!(k.admin);
        added += usize::from(new);
    }
    assert_eq!(added, 1, "stored once");
    let id = falcon_auth::token_id(&token).unwrap();
    let all = store.list().await.unwrap();
    assert_eq!(all.iter().filter(|k| k.id == id).count(), 1);
    let auth = Authenticator::new(all);
    assert!(auth.verify(&token).unwrap().admin);
    assert!(matches!(
        store.import("bootstrap", "flk_short", None, true).await,
        Err(AuthError::InvalidArgument(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    exercise(
        Database::open_sqlite(&dir.path().join("falcon.db"))
            .await
            .unwrap(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_on_postgres() {
    let Some(base) = pg_base_url("keys_on_postgres").await else {
        return;
    };
    let schema = format!("t_keys_{}", std::process::id());
    let (c, conn) = tokio_postgres_connect(&base).await;
    let h = tokio::spawn(conn);
    c.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    ))
    .await
    .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    exercise(
        Database::connect(&url, &DbOptions::default())
            .await
            .unwrap(),
    )
    .await;
    c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
    drop(c);
    let _ = h.await;
}

async fn tokio_postgres_connect(
    url: &str,
) -> (
    tokio_postgres::Client,
    tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>,
) {
    tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap()
}
