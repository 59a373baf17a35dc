//! The `predictions` table: schema, batched inserts, and the queries behind
//! `falcon log stats` / `falcon log export`.

use std::sync::Arc;
use std::time::SystemTime;

use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

use crate::db::{Database, Migration};
use crate::error::{LogError, Result};
use crate::record::{CacheTier, PredictionRecord, micros_to_system_time, system_time_to_micros};

/// The log's schema. The `(request_id, item)` primary key makes replay
/// idempotent; `(ts)` serves time-window stats and export; on Postgres,
/// `(model, ts)` the per-model filter.
///
/// `0002` drops `(model, ts)` on SQLite (issue #15). SQLite never used it:
/// the queries' `(?3 IS NULL OR model = ?3)` is planned once, before `?3`
/// is known, and every plan is a range on `(ts)` (`EXPLAIN QUERY PLAN`;
/// the test `sqlite_plans_use_the_ts_index_only` pins it), yet every row
/// paid for it, ~20 % of SQLite's time per row
/// (`examples/sqlite_row_cost.rs`). Postgres plans with the values and
/// does use it, on its own host, so it stays there.
///
/// `0003` rebuilds the SQLite table clustered by time: a `WITHOUT ROWID`
/// table whose primary key is `(ts, request_id, item)`. Before it, a row
/// went into three B-trees (the rowid table, the key's index and `(ts)`);
/// now into one, ~19 % less of SQLite's time per row
/// (`examples/sqlite_row_cost.rs`), and the file loses two indexes. Every
/// query is a time window, now a range of the key itself (the test
/// `sqlite_plans_range_scan_the_clustered_key` pins it), and export's
/// cursor order `(ts, request_id, item)` is the table's own. Replays stay
/// idempotent: a spooled row is replayed as it was recorded, timestamp
/// included, so a row the database already holds has the same key. Two
/// different rows share `(request_id, item)` only if the server's
/// process-unique ids collide, which the old key refused and this one would
/// keep. The rebuild copies an existing log once, in the migration's
/// transaction (~3 s per million rows here, and room on disk for a second
/// copy while it runs; the old pages are reused by new rows, or returned
/// by `VACUUM`); rows that arrive meanwhile wait in the writer's queue or
/// the spool, as during any slow write.
pub static MIGRATIONS: &[Migration] = &[
    Migration {
        name: "falcon_log_0001_predictions",
        postgres: "
        CREATE TABLE IF NOT EXISTS predictions (
            request_id  TEXT        NOT NULL,
            item        INTEGER     NOT NULL,
            ts          TIMESTAMPTZ NOT NULL,
            model       TEXT        NOT NULL,
            version     TEXT        NOT NULL,
            label       TEXT        NOT NULL,
            scores      JSONB,
            latency_us  BIGINT      NOT NULL,
            cache       TEXT        NOT NULL,
            api_key_id  TEXT,
            text_sha256 BYTEA       NOT NULL,
            text_len    INTEGER     NOT NULL,
            text        TEXT,
            PRIMARY KEY (request_id, item)
        );
        CREATE INDEX IF NOT EXISTS predictions_ts ON predictions (ts);
        CREATE INDEX IF NOT EXISTS predictions_model_ts ON predictions (model, ts);",
        sqlite: "
        CREATE TABLE IF NOT EXISTS predictions (
            request_id  TEXT    NOT NULL,
            item        INTEGER NOT NULL,
            ts          INTEGER NOT NULL,  -- microseconds since the Unix epoch
            model       TEXT    NOT NULL,
            version     TEXT    NOT NULL,
            label       TEXT    NOT NULL,
            scores      TEXT,              -- JSON object
            latency_us  INTEGER NOT NULL,
            cache       TEXT    NOT NULL,
            api_key_id  TEXT,
            text_sha256 BLOB    NOT NULL,
            text_len    INTEGER NOT NULL,
            text        TEXT,
            PRIMARY KEY (request_id, item)
        );
        CREATE INDEX IF NOT EXISTS predictions_ts ON predictions (ts);
        CREATE INDEX IF NOT EXISTS predictions_model_ts ON predictions (model, ts);",
    },
    Migration {
        name: "falcon_log_0002_sqlite_drops_model_ts",
        postgres: "SELECT 1",
        sqlite: "DROP INDEX IF EXISTS predictions_model_ts;",
    },
    // The columns restate `0001`'s on purpose: an applied migration is
    // history, and its text must not change when a later one is written.
    Migration {
        name: "falcon_log_0003_sqlite_clusters_by_ts",
        postgres: "SELECT 1",
        sqlite: "
        CREATE TABLE predictions_by_ts (
            request_id  TEXT    NOT NULL,
            item        INTEGER NOT NULL,
            ts          INTEGER NOT NULL,  -- microseconds since the Unix epoch
            model       TEXT    NOT NULL,
            version     TEXT    NOT NULL,
            label       TEXT    NOT NULL,
            scores      TEXT,              -- JSON object
            latency_us  INTEGER NOT NULL,
            cache       TEXT    NOT NULL,
            api_key_id  TEXT,
            text_sha256 BLOB    NOT NULL,
            text_len    INTEGER NOT NULL,
            text        TEXT,
            PRIMARY KEY (ts, request_id, item)
        ) WITHOUT ROWID;
        INSERT INTO predictions_by_ts
            SELECT request_id, item, ts, model, version, label, scores, latency_us, cache,
                   api_key_id, text_sha256, text_len, text
            FROM predictions ORDER BY ts, request_id, item;
        DROP TABLE predictions;
        ALTER TABLE predictions_by_ts RENAME TO predictions;",
    },
];

/// The time window and optional model of every SQLite query (stats and
/// export): `?1` since, `?2` until (µs), `?3` the model or NULL.
const SQLITE_WINDOW: &str = "ts >= ?1 AND ts < ?2 AND (?3 IS NULL OR model = ?3)";

const COLUMNS: &str = "request_id, item, ts, model, version, label, scores, latency_us, cache, \
                       api_key_id, text_sha256, text_len, text";

/// How batches reach Postgres. Both are idempotent on the primary key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PgInsertMode {
    /// `COPY … FROM STDIN (FORMAT binary)` into a temporary staging table,
    /// then `INSERT … SELECT … ON CONFLICT DO NOTHING` (COPY itself cannot
    /// skip duplicates). Measured 15–25 % faster than [`Self::Unnest`] on
    /// the 2-core dev machine (36–79k vs 31–67k rows/s depending on load;
    /// see `docs/ARCHITECTURE.md`), hence the default.
    #[default]
    Copy,
    /// One multi-row `INSERT … SELECT * FROM unnest($1::text[], …) ON
    /// CONFLICT DO NOTHING` with one array parameter per column: a single
    /// prepared statement whatever the batch size (no 65,535-parameter
    /// limit, no per-size statement cache).
    Unnest,
}

fn i32_sat(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn i64_sat(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Stores `rows`, skipping any already present. All or nothing.
pub async fn insert_batch(
    db: &Database,
    rows: &[PredictionRecord],
    mode: PgInsertMode,
) -> Result<()> {
    insert_shared(db, &Arc::new(rows.to_vec()), mode).await
}

/// [`insert_batch`] without copying the rows: SQLite's blocking task
/// shares them (the writer keeps its own reference, to spool them if the
/// batch fails or times out).
pub async fn insert_shared(
    db: &Database,
    rows: &Arc<Vec<PredictionRecord>>,
    mode: PgInsertMode,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    match db {
        Database::Postgres(_) => {
            let mut client = db.pg().await?;
            match mode {
                PgInsertMode::Copy => pg_copy(&mut client, rows).await,
                PgInsertMode::Unnest => pg_unnest(&client, rows).await,
            }
        }
        Database::Sqlite(s) => {
            let rows = rows.clone();
            s.call(move |conn| {
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let mut groups = rows.chunks_exact(SQLITE_ROWS_PER_INSERT);
                for group in &mut groups {
                    sqlite_insert(&tx, group)?;
                }
                for row in groups.remainder() {
                    sqlite_insert(&tx, std::slice::from_ref(row))?;
                }
                tx.commit()?;
                Ok(())
            })
            .await
        }
    }
}

/// Rows per SQLite `INSERT` statement. One statement per row paid
/// SQLite's per-statement work (bind, VDBE start and halt, the conflict
/// check's setup) for every row; eight rows per statement measured 33 %
/// less time per row than one (`examples/sqlite_row_cost.rs`), and 32 no
/// better than eight.
pub const SQLITE_ROWS_PER_INSERT: usize = 8;

/// One prepared `INSERT … VALUES (…), (…) ON CONFLICT DO NOTHING` for
/// `rows` (1 or [`SQLITE_ROWS_PER_INSERT`] of them: three cached
/// statements), bound value by value.
///
/// A group whose rows share their model, version, key id and text (one
/// model, no `--auth`, no `--log-text`: nearly every group) binds those
/// once, as numbered parameters every row's `VALUES` names, instead of once
/// per row: binding a text costs SQLite a copy and rusqlite a dispatch,
/// and those four were a third of the binds (`bench/instructions.sh`: ~0.8k
/// instructions per row). Other groups bind every value of every row.
fn sqlite_insert(
    tx: &rusqlite::Transaction<'_>,
    rows: &[PredictionRecord],
) -> rusqlite::Result<()> {
    /// `(?, …)` per row, every column its own parameter.
    fn sql(rows: usize) -> String {
        let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; rows].join(", ");
        format!("INSERT INTO predictions ({COLUMNS}) VALUES {values} ON CONFLICT DO NOTHING")
    }
    /// `model`, `version`, `api_key_id` and `text` are `?1`–`?4` in every
    /// row; each row's other nine columns follow, nine parameters a row.
    fn shared_sql(rows: usize) -> String {
        let values: Vec<String> = (0..rows)
            .map(|r| {
                let p = |k: usize| 5 + r * 9 + k;
                format!(
                    "(?{}, ?{}, ?{}, ?1, ?2, ?{}, ?{}, ?{}, ?{}, ?3, ?{}, ?{}, ?4)",
                    p(0),
                    p(1),
                    p(2),
                    p(3),
                    p(4),
                    p(5),
                    p(6),
                    p(7),
                    p(8)
                )
            })
            .collect();
        format!(
            "INSERT INTO predictions ({COLUMNS}) VALUES {} ON CONFLICT DO NOTHING",
            values.join(", ")
        )
    }
    static ONE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| sql(1));
    static GROUP: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| sql(SQLITE_ROWS_PER_INSERT));
    static SHARED: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| shared_sql(SQLITE_ROWS_PER_INSERT));
    debug_assert!(rows.len() == 1 || rows.len() == SQLITE_ROWS_PER_INSERT);
    let first = &rows[0];
    let shared = rows.len() > 1
        && rows[1..].iter().all(|r| {
            r.model == first.model
                && r.version == first.version
                && r.api_key_id == first.api_key_id
                && r.text == first.text
        });
    let mut st = tx.prepare_cached(match (rows.len(), shared) {
        (1, _) => &ONE,
        (_, true) => &SHARED,
        (_, false) => &GROUP,
    })?;
    let mut at = 0;
    let mut bind = |st: &mut rusqlite::CachedStatement<'_>, v: &dyn rusqlite::ToSql| {
        at += 1;
        st.raw_bind_parameter(at, v)
    };
    if shared {
        bind(&mut st, &first.model)?;
        bind(&mut st, &first.version)?;
        bind(&mut st, &first.api_key_id)?;
        bind(&mut st, &first.text)?;
    }
    for r in rows {
        bind(&mut st, &r.request_id)?;
        bind(&mut st, &r.item)?;
        bind(&mut st, &r.ts_micros)?;
        if !shared {
            bind(&mut st, &r.model)?;
            bind(&mut st, &r.version)?;
        }
        bind(&mut st, &r.label)?;
        // SQLite copies bound text, so the temporary may go.
        bind(&mut st, &r.scores_json_text())?;
        bind(&mut st, &i64_sat(r.latency_us))?;
        bind(&mut st, &r.cache.as_str())?;
        if !shared {
            bind(&mut st, &r.api_key_id)?;
        }
        bind(&mut st, &&r.text_sha256[..])?;
        bind(&mut st, &r.text_len)?;
        if !shared {
            bind(&mut st, &r.text)?;
        }
    }
    st.raw_execute()?;
    Ok(())
}

async fn pg_copy(client: &mut deadpool_postgres::Object, rows: &[PredictionRecord]) -> Result<()> {
    let tx = client.transaction().await?;
    // One round trip; `SET LOCAL` silences the "already exists, skipping"
    // NOTICE that would otherwise reach the server's log at every batch.
    tx.batch_execute(
        "SET LOCAL client_min_messages = warning; \
         CREATE TEMP TABLE IF NOT EXISTS falcon_predictions_stage \
         (LIKE predictions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
    )
    .await?;
    let sink = tx
        .copy_in(&format!(
            "COPY falcon_predictions_stage ({COLUMNS}) FROM STDIN (FORMAT binary)"
        ))
        .await?;
    let types = [
        Type::TEXT,
        Type::INT4,
        Type::TIMESTAMPTZ,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::JSONB,
        Type::INT8,
        Type::TEXT,
        Type::TEXT,
        Type::BYTEA,
        Type::INT4,
        Type::TEXT,
    ];
    let writer = BinaryCopyInWriter::new(sink, &types);
    futures_util::pin_mut!(writer);
    for r in rows {
        let ts = r.timestamp();
        let scores = r.scores_json();
        writer
            .as_mut()
            .write(&[
                &&*r.request_id,
                &i32_sat(r.item),
                &ts,
                &&*r.model,
                &&*r.version,
                &&*r.label,
                &scores,
                &i64_sat(r.latency_us),
                &r.cache.as_str(),
                &r.api_key_id.as_deref(),
                &&r.text_sha256[..],
                &i32_sat(r.text_len),
                &r.text,
            ])
            .await?;
    }
    writer.finish().await?;
    tx.execute(
        &format!(
            "INSERT INTO predictions ({COLUMNS}) SELECT {COLUMNS} FROM falcon_predictions_stage \
             ON CONFLICT DO NOTHING"
        ),
        &[],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn pg_unnest(client: &deadpool_postgres::Object, rows: &[PredictionRecord]) -> Result<()> {
    let n = rows.len();
    let mut request_id = Vec::with_capacity(n);
    let mut item = Vec::with_capacity(n);
    let mut ts = Vec::with_capacity(n);
    let mut model = Vec::with_capacity(n);
    let mut version = Vec::with_capacity(n);
    let mut label = Vec::with_capacity(n);
    let mut scores = Vec::with_capacity(n);
    let mut latency = Vec::with_capacity(n);
    let mut cache = Vec::with_capacity(n);
    let mut key = Vec::with_capacity(n);
    let mut sha = Vec::with_capacity(n);
    let mut len = Vec::with_capacity(n);
    let mut text = Vec::with_capacity(n);
    for r in rows {
        request_id.push(&*r.request_id);
        item.push(i32_sat(r.item));
        ts.push(r.timestamp());
        model.push(&*r.model);
        version.push(&*r.version);
        label.push(&*r.label);
        scores.push(r.scores_json());
        latency.push(i64_sat(r.latency_us));
        cache.push(r.cache.as_str());
        key.push(r.api_key_id.as_deref());
        sha.push(&r.text_sha256[..]);
        len.push(i32_sat(r.text_len));
        text.push(r.text.as_deref());
    }
    let stmt = client
        .prepare_cached(&format!(
            "INSERT INTO predictions ({COLUMNS}) SELECT * FROM unnest(\
             $1::text[], $2::int4[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], \
             $7::jsonb[], $8::int8[], $9::text[], $10::text[], $11::bytea[], $12::int4[], \
             $13::text[]) ON CONFLICT DO NOTHING"
        ))
        .await?;
    client
        .execute(
            &stmt,
            &[
                &request_id,
                &item,
                &ts,
                &model,
                &version,
                &label,
                &scores,
                &latency,
                &cache,
                &key,
                &sha,
                &len,
                &text,
            ],
        )
        .await?;
    Ok(())
}

/// The part of the log a query looks at.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Rows at or after this instant.
    pub since: Option<SystemTime>,
    /// Rows strictly before this instant.
    pub until: Option<SystemTime>,
    /// Only this model.
    pub model: Option<String>,
}

impl Filter {
    fn since_us(&self) -> i64 {
        self.since.map_or(i64::MIN, system_time_to_micros)
    }
    fn until_us(&self) -> i64 {
        self.until.map_or(i64::MAX, system_time_to_micros)
    }
}

/// Rows per (model, version, label).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LabelCount {
    pub model: String,
    pub version: String,
    pub label: String,
    pub count: u64,
}

/// What `falcon log stats` prints.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct LogSummary {
    pub total: u64,
    pub by_label: Vec<LabelCount>,
    /// Rows answered by each tier: `(miss, memory, redis)`.
    pub cache_miss: u64,
    pub cache_memory: u64,
    pub cache_redis: u64,
    /// Latency percentiles (nearest rank) in microseconds: p50, p90, p95,
    /// p99, and the maximum; `None` when there are no rows.
    pub latency_us: Option<Percentiles>,
}

impl LogSummary {
    /// Share of rows answered from any cache tier.
    pub fn cache_hit_rate(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            (self.cache_memory + self.cache_redis) as f64 / self.total as f64
        }
    }
}

/// Latency percentiles, microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p95: u64,
    pub p99: u64,
    pub max: u64,
}

const QUANTILES: [f64; 5] = [0.5, 0.9, 0.95, 0.99, 1.0];

fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Counts, cache hit rate and latency percentiles over `filter`.
///
/// `by_label` counts labels, not rows: a multi-label or multi-output
/// answer's label is stored as a JSON list (`["spam","money"]`), and each
/// label in it counts once for its model and version, so a model's label
/// counts may add up to more than its rows (and a multi-label answer with
/// no positive label counts under `[]`). `total` counts rows. A
/// single-label class whose own name is a JSON list of strings would be
/// counted as its elements; no known model names classes so.
pub async fn summary(db: &Database, filter: &Filter) -> Result<LogSummary> {
    let mut out = summary_rows(db, filter).await?;
    out.by_label = expand_list_labels(std::mem::take(&mut out.by_label));
    Ok(out)
}

/// Counts per label of `rows` (per (model, version, label string) as
/// stored), with list labels counted per element; sorted like the query:
/// model, version, count descending, label.
fn expand_list_labels(rows: Vec<LabelCount>) -> Vec<LabelCount> {
    use std::collections::BTreeMap;
    if !rows.iter().any(|r| r.label.starts_with('[')) {
        return rows;
    }
    let mut counts: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for r in rows {
        let list = r
            .label
            .starts_with('[')
            .then(|| serde_json::from_str::<Vec<String>>(&r.label).ok())
            .flatten()
            .filter(|l| !l.is_empty());
        match list {
            Some(labels) => {
                for l in labels {
                    *counts
                        .entry((r.model.clone(), r.version.clone(), l))
                        .or_default() += r.count;
                }
            }
            None => {
                *counts
                    .entry((r.model.clone(), r.version.clone(), r.label.clone()))
                    .or_default() += r.count
            }
        }
    }
    let mut out: Vec<LabelCount> = counts
        .into_iter()
        .map(|((model, version, label), count)| LabelCount {
            model,
            version,
            label,
            count,
        })
        .collect();
    out.sort_by(|a, b| {
        (&a.model, &a.version)
            .cmp(&(&b.model, &b.version))
            .then(b.count.cmp(&a.count))
            .then(a.label.cmp(&b.label))
    });
    out
}

async fn summary_rows(db: &Database, filter: &Filter) -> Result<LogSummary> {
    let (since, until, model) = (
        micros_to_system_time(filter.since_us().max(-62_135_596_800_000_000)),
        micros_to_system_time(filter.until_us().min(253_402_300_799_000_000)),
        filter.model.clone(),
    );
    match db {
        Database::Postgres(_) => {
            let client = db.pg().await?;
            const WHERE: &str = "ts >= $1 AND ts < $2 AND ($3::text IS NULL OR model = $3)";
            let mut out = LogSummary::default();
            for row in client
                .query(
                    &format!(
                        "SELECT model, version, label, count(*) FROM predictions WHERE {WHERE} \
                         GROUP BY 1, 2, 3 ORDER BY 1, 2, 4 DESC, 3"
                    ),
                    &[&since, &until, &model],
                )
                .await?
            {
                out.by_label.push(LabelCount {
                    model: row.get(0),
                    version: row.get(1),
                    label: row.get(2),
                    count: u64_of(row.get(3)),
                });
            }
            for row in client
                .query(
                    &format!("SELECT cache, count(*) FROM predictions WHERE {WHERE} GROUP BY 1"),
                    &[&since, &until, &model],
                )
                .await?
            {
                let n = u64_of(row.get(1));
                add_cache(&mut out, CacheTier::parse(row.get(0)), n);
            }
            let row = client
                .query_one(
                    &format!(
                        "SELECT percentile_disc($4::float8[]) WITHIN GROUP (ORDER BY latency_us) \
                         FROM predictions WHERE {WHERE}"
                    ),
                    &[&since, &until, &model, &QUANTILES.to_vec()],
                )
                .await?;
            let q: Option<Vec<i64>> = row.get(0);
            out.latency_us = q.filter(|q| q.len() == 5).map(|q| Percentiles {
                p50: u64_of(q[0]),
                p90: u64_of(q[1]),
                p95: u64_of(q[2]),
                p99: u64_of(q[3]),
                max: u64_of(q[4]),
            });
            Ok(out)
        }
        Database::Sqlite(s) => {
            let (since, until) = (filter.since_us(), filter.until_us());
            s.call(move |conn| {
                const WHERE: &str = SQLITE_WINDOW;
                let p = rusqlite::params![since, until, model];
                let mut out = LogSummary::default();
                let mut st = conn.prepare(&format!(
                    "SELECT model, version, label, count(*) FROM predictions WHERE {WHERE} \
                     GROUP BY 1, 2, 3 ORDER BY 1, 2, 4 DESC, 3"
                ))?;
                let rows = st.query_map(p, |r| {
                    Ok(LabelCount {
                        model: r.get(0)?,
                        version: r.get(1)?,
                        label: r.get(2)?,
                        count: u64_of(r.get(3)?),
                    })
                })?;
                for r in rows {
                    out.by_label.push(r?);
                }
                let mut st = conn.prepare(&format!(
                    "SELECT cache, count(*) FROM predictions WHERE {WHERE} GROUP BY 1"
                ))?;
                let rows = st.query_map(p, |r| Ok((r.get::<_, String>(0)?, u64_of(r.get(1)?))))?;
                for r in rows {
                    let (tier, n) = r?;
                    add_cache(&mut out, CacheTier::parse(&tier), n);
                }
                if out.total > 0 {
                    let mut st = conn.prepare(&format!(
                        "SELECT latency_us FROM predictions WHERE {WHERE} \
                         ORDER BY latency_us LIMIT 1 OFFSET ?4"
                    ))?;
                    let mut q = [0u64; 5];
                    for (slot, quantile) in q.iter_mut().zip(QUANTILES) {
                        // Nearest rank, as Postgres' percentile_disc.
                        let rank = ((quantile * out.total as f64).ceil() as u64).max(1);
                        let off = i64::try_from(rank - 1).unwrap_or(i64::MAX);
                        *slot = u64_of(
                            st.query_row(rusqlite::params![since, until, model, off], |r| {
                                r.get(0)
                            })?,
                        );
                    }
                    out.latency_us = Some(Percentiles {
                        p50: q[0],
                        p90: q[1],
                        p95: q[2],
                        p99: q[3],
                        max: q[4],
                    });
                }
                Ok(out)
            })
            .await
        }
    }
}

fn add_cache(out: &mut LogSummary, tier: CacheTier, n: u64) {
    out.total += n;
    match tier {
        CacheTier::Miss => out.cache_miss += n,
        CacheTier::Memory => out.cache_memory += n,
        CacheTier::Redis => out.cache_redis += n,
    }
}

/// Where an export page ends; pass it back to get the next page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    ts_micros: i64,
    request_id: String,
    item: u32,
}

/// Up to `limit` rows matching `filter`, in `(ts, request_id, item)` order,
/// after `after`; the cursor for the next page is `None` when this page is
/// the last. Pages by key, not offset, so a long export stays linear.
pub async fn export_page(
    db: &Database,
    filter: &Filter,
    after: Option<&Cursor>,
    limit: usize,
) -> Result<(Vec<PredictionRecord>, Option<Cursor>)> {
    let limit_i = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
    let (a_ts, a_id, a_item) = match after {
        Some(c) => (c.ts_micros, c.request_id.clone(), i64::from(c.item)),
        None => (i64::MIN, String::new(), -1),
    };
    let model = filter.model.clone();
    let rows: Vec<PredictionRecord> = match db {
        Database::Postgres(_) => {
            let client = db.pg().await?;
            let since =
                micros_to_system_time(filter.since_us().max(a_ts).max(-62_135_596_800_000_000));
            let until = micros_to_system_time(filter.until_us().min(253_402_300_799_000_000));
            let after_ts = micros_to_system_time(a_ts.max(-62_135_596_800_000_000));
            let a_item = i32::try_from(a_item).unwrap_or(i32::MAX);
            let rows = client
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM predictions \
                         WHERE ts >= $1 AND ts < $2 AND ($3::text IS NULL OR model = $3) \
                         AND (ts, request_id, item) > ($4, $5, $6) \
                         ORDER BY ts, request_id, item LIMIT $7"
                    ),
                    &[&since, &until, &model, &after_ts, &a_id, &a_item, &limit_i],
                )
                .await?;
            rows.iter()
                .map(|r| -> Result<PredictionRecord> {
                    let sha: Vec<u8> = r.get(10);
                    let scores: Option<serde_json::Value> = r.get(6);
                    let text = |i: usize| -> Arc<str> { r.get::<_, &str>(i).into() };
                    Ok(PredictionRecord {
                        request_id: text(0),
                        item: u32::try_from(r.get::<_, i32>(1)).unwrap_or(0),
                        ts_micros: system_time_to_micros(r.get(2)),
                        model: text(3),
                        version: text(4),
                        label: text(5),
                        scores: scores
                            .as_ref()
                            .map(PredictionRecord::scores_from_json)
                            .unwrap_or_default(),
                        latency_us: u64_of(r.get(7)),
                        cache: CacheTier::parse(r.get(8)),
                        api_key_id: r.get::<_, Option<&str>>(9).map(Into::into),
                        text_sha256: sha.try_into().map_err(|_| {
                            LogError::Encoding("text_sha256 is not 32 bytes".into())
                        })?,
                        text_len: u32::try_from(r.get::<_, i32>(11)).unwrap_or(0),
                        text: r.get(12),
                    })
                })
                .collect::<Result<_>>()?
        }
        Database::Sqlite(s) => {
            let (since, until) = (filter.since_us().max(a_ts), filter.until_us());
            s.call(move |conn| {
                let mut st = conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM predictions WHERE {SQLITE_WINDOW} \
                     AND (ts, request_id, item) > (?4, ?5, ?6) \
                     ORDER BY ts, request_id, item LIMIT ?7"
                ))?;
                let rows = st.query_map(
                    rusqlite::params![since, until, model, a_ts, a_id, a_item, limit_i],
                    |r| {
                        let sha: Vec<u8> = r.get(10)?;
                        let scores: Option<String> = r.get(6)?;
                        let cache: String = r.get(8)?;
                        Ok((
                            PredictionRecord {
                                request_id: r.get(0)?,
                                item: r.get(1)?,
                                ts_micros: r.get(2)?,
                                model: r.get(3)?,
                                version: r.get(4)?,
                                label: r.get(5)?,
                                scores: Vec::new(),
                                latency_us: u64_of(r.get(7)?),
                                cache: CacheTier::parse(&cache),
                                api_key_id: r.get(9)?,
                                text_sha256: [0; 32],
                                text_len: r.get(11)?,
                                text: r.get(12)?,
                            },
                            sha,
                            scores,
                        ))
                    },
                )?;
                let mut out = Vec::new();
                for row in rows {
                    let (mut rec, sha, scores) = row?;
                    rec.text_sha256 = sha
                        .try_into()
                        .map_err(|_| LogError::Encoding("text_sha256 is not 32 bytes".into()))?;
                    if let Some(s) = scores {
                        let v: serde_json::Value = serde_json::from_str(&s)
                            .map_err(|e| LogError::Encoding(e.to_string()))?;
                        rec.scores = PredictionRecord::scores_from_json(&v);
                    }
                    out.push(rec);
                }
                Ok(out)
            })
            .await?
        }
    };
    let next = if rows.len() < limit.max(1) {
        None
    } else {
        rows.last().map(|r| Cursor {
            ts_micros: r.ts_micros,
            request_id: r.request_id.to_string(),
            item: r.item,
        })
    };
    Ok((rows, next))
}

/// Number of rows (tests, `falcon log stats`).
pub async fn count(db: &Database) -> Result<u64> {
    match db {
        Database::Postgres(_) => {
            let c = db.pg().await?;
            Ok(u64_of(
                c.query_one("SELECT count(*) FROM predictions", &[])
                    .await?
                    .get(0),
            ))
        }
        Database::Sqlite(s) => {
            s.call(|c| {
                Ok(u64_of(c.query_row(
                    "SELECT count(*) FROM predictions",
                    [],
                    |r| r.get(0),
                )?))
            })
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    /// Why `0002` dropped `(model, ts)` on SQLite and `0003` could fold
    /// `(ts)` into the key: every query shape over
    /// [`super::SQLITE_WINDOW`], with or without a model, is a range on the
    /// time. Before `0003` (`before`), the range used `(ts)` and never
    /// `(model, ts)`; after it, the range is on the clustered key itself,
    /// never a full scan. Should SQLite ever plan otherwise, this fails.
    #[test]
    fn sqlite_plans_range_scan_the_clustered_key() {
        for before in [true, false] {
            let conn = rusqlite::Connection::open_in_memory().unwrap();
            let n = if before { 1 } else { super::MIGRATIONS.len() };
            for m in &super::MIGRATIONS[..n] {
                conn.execute_batch(m.sqlite).unwrap();
            }
            let want = if before {
                "USING INDEX predictions_ts "
            } else {
                "USING PRIMARY KEY (ts>? AND ts<?)"
            };
            plans_use(&conn, want);
        }
    }

    fn plans_use(conn: &rusqlite::Connection, want: &str) {
        let w = super::SQLITE_WINDOW;
        for sql in [
            format!("SELECT model, count(*) FROM predictions WHERE {w} GROUP BY 1"),
            format!("SELECT latency_us FROM predictions WHERE {w} ORDER BY 1 LIMIT 1 OFFSET ?4"),
            format!(
                "SELECT * FROM predictions WHERE {w} AND (ts, request_id, item) > (?4, ?5, ?6) \
                 ORDER BY ts, request_id, item LIMIT ?7"
            ),
        ] {
            for model in [None, Some("spam")] {
                let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                let n = st.parameter_count();
                let args: Vec<rusqlite::types::Value> = (1..=n)
                    .map(|i| match i {
                        3 => model.map_or(rusqlite::types::Value::Null, |m| m.to_string().into()),
                        5 => String::new().into(),
                        _ => 0i64.into(),
                    })
                    .collect();
                let plan: Vec<String> = st
                    .query_map(rusqlite::params_from_iter(args), |r| r.get(3))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                let plan = plan.join("; ");
                assert!(plan.contains(want), "{sql}: {plan}");
                assert!(!plan.contains("predictions_model_ts"), "{sql}: {plan}");
            }
        }
    }

    #[test]
    fn list_labels_count_each_element() {
        use super::{LabelCount, expand_list_labels};
        let row = |model: &str, label: &str, count| LabelCount {
            model: model.into(),
            version: "1".into(),
            label: label.into(),
            count,
        };
        let out = expand_list_labels(vec![
            row("tags", r#"["spam","money"]"#, 3),
            row("tags", r#"["spam"]"#, 2),
            row("tags", "[]", 4),
            row("plain", "ham", 1),
            row("plain", "[not json", 1),
        ]);
        assert_eq!(
            out,
            vec![
                row("plain", "[not json", 1),
                row("plain", "ham", 1),
                row("tags", "spam", 5),
                row("tags", "[]", 4),
                row("tags", "money", 3),
            ]
        );
    }
}
