//! What one prediction-log row costs SQLite, and what each index and
//! column of the table adds (issue #15: "measure what each index and
//! column costs").
//!
//! Inserts `ROWS` rows shaped like the server's (a process-unique request
//! id with a counter, one item, rising timestamps, a two-class score
//! object, a random SHA-256) in transactions of `BATCH` rows, the way the
//! writer does at saturation, with the writer's pragmas (WAL,
//! `synchronous=NORMAL`) and its prepared `INSERT … ON CONFLICT DO
//! NOTHING`. Each table variant runs `ROUNDS` times, interleaved, into a
//! fresh file; the best round is reported, as µs per row and as a ratio to
//! the shipped schema measured in the same run.
//!
//! `cargo run --release -p falcon_log --example sqlite_row_cost [ROWS] [BATCH] [ROUNDS]`

use std::time::Instant;

use falcon_log::store::MIGRATIONS;

/// The writer's statement, for `rows` rows at once.
fn insert_sql(rows: usize) -> String {
    let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; rows].join(", ");
    format!(
        "INSERT INTO predictions (request_id, item, ts, model, version, label, scores, \
         latency_us, cache, api_key_id, text_sha256, text_len, text) VALUES {values} \
         ON CONFLICT DO NOTHING"
    )
}

/// The table without its indexes, with and without the primary key, as a
/// rowid table and as a `WITHOUT ROWID` one.
const TABLE: &str = "request_id TEXT NOT NULL, item INTEGER NOT NULL, ts INTEGER NOT NULL, \
     model TEXT NOT NULL, version TEXT NOT NULL, label TEXT NOT NULL, scores TEXT, \
     latency_us INTEGER NOT NULL, cache TEXT NOT NULL, api_key_id TEXT, \
     text_sha256 BLOB NOT NULL, text_len INTEGER NOT NULL, text TEXT";
const TS: &str = "CREATE INDEX predictions_ts ON predictions (ts);";
const MODEL_TS: &str = "CREATE INDEX predictions_model_ts ON predictions (model, ts);";

fn variants() -> Vec<(&'static str, String)> {
    let pk = format!("CREATE TABLE predictions ({TABLE}, PRIMARY KEY (request_id, item));");
    let no_pk = format!("CREATE TABLE predictions ({TABLE});");
    let without_rowid = format!(
        "CREATE TABLE predictions ({TABLE}, PRIMARY KEY (request_id, item)) WITHOUT ROWID;"
    );
    vec![
        (
            "shipped schema",
            MIGRATIONS.iter().map(|m| m.sqlite).collect(),
        ),
        ("pk + ts + model_ts", format!("{pk}{TS}{MODEL_TS}")),
        ("pk + model_ts", format!("{pk}{MODEL_TS}")),
        ("pk + ts", format!("{pk}{TS}")),
        ("pk only", pk.clone()),
        ("no pk, no index", no_pk),
        (
            "without rowid + ts + model_ts",
            format!("{without_rowid}{TS}{MODEL_TS}"),
        ),
        ("without rowid only", without_rowid),
        (
            "ts-clustered (without rowid)",
            format!(
                "CREATE TABLE predictions ({TABLE}, PRIMARY KEY (ts, request_id, item)) \
                 WITHOUT ROWID;"
            ),
        ),
    ]
}

struct Row {
    request_id: String,
    ts: i64,
    sha: [u8; 32],
}

fn rows(n: usize) -> Vec<Row> {
    // xorshift: a fixed, dependency-free stream for the hash bytes.
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let t0 = 1_780_000_000_000_000i64;
    (0..n)
        .map(|i| {
            let mut sha = [0u8; 32];
            for c in sha.chunks_mut(8) {
                c.copy_from_slice(&next().to_le_bytes());
            }
            Row {
                request_id: format!("1a2b3c4d-{i:012x}"),
                ts: t0 + (i as i64) * 50,
                sha,
            }
        })
        .collect()
}

fn run(schema: &str, rows: &[Row], batch: usize, per_statement: usize) -> rusqlite::Result<f64> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut conn = rusqlite::Connection::open(dir.path().join("log.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(schema)?;
    let started = Instant::now();
    for chunk in rows.chunks(batch) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for group in chunk.chunks(per_statement) {
            let sql = insert_sql(group.len());
            let mut st = tx.prepare_cached(&sql)?;
            let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(13 * group.len());
            for r in group {
                values.extend_from_slice(&[
                    &r.request_id,
                    &0u32,
                    &r.ts,
                    &"spam",
                    &"1",
                    &"ham",
                    &r#"{"ham":0.9871682013164531,"spam":0.012831798683546856}"#,
                    &41i64,
                    &"memory",
                    &None::<String>,
                    &r.sha,
                    &5523u32,
                    &None::<String>,
                ]);
            }
            st.execute(&values[..])?;
        }
        tx.commit()?;
    }
    Ok(started.elapsed().as_secs_f64() * 1e6 / rows.len() as f64)
}

fn main() -> rusqlite::Result<()> {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (n, batch, rounds) = (arg(1, 200_000), arg(2, 256).max(1), arg(3, 3).max(1));
    let rows = rows(n);
    let mut variants: Vec<(String, String, usize)> = variants()
        .into_iter()
        .map(|(name, schema)| (name.to_string(), schema, 1))
        .collect();
    let shipped = variants[0].1.clone();
    let clustered = variants.last().expect("variants").1.clone();
    let ts_only = format!("CREATE TABLE predictions ({TABLE});{TS}");
    variants.push(("rowid + ts, 8 rows per INSERT".into(), ts_only, 8));
    for per in [8, 32] {
        variants.push((
            format!("shipped, {per} rows per INSERT"),
            shipped.clone(),
            per,
        ));
        variants.push((
            format!("ts-clustered, {per} rows per INSERT"),
            clustered.clone(),
            per,
        ));
    }
    let mut best = vec![f64::INFINITY; variants.len()];
    for _ in 0..rounds {
        for (i, (_, schema, per)) in variants.iter().enumerate() {
            best[i] = best[i].min(run(schema, &rows, batch, *per)?);
        }
    }
    println!("{n} rows, {batch} per transaction, best of {rounds} rounds");
    println!("{:<32} {:>9} {:>9}", "table", "µs/row", "vs shipped");
    for ((name, _, _), us) in variants.iter().zip(&best) {
        println!("{name:<32} {us:>9.3} {:>9.2}", us / best[0]);
    }
    Ok(())
}
