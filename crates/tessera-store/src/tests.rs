//! The storage conformance suite: every test runs on SQLite, and on PostgreSQL when
//! `TESSERA_TEST_PG_URL` names a server (CI always sets it).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};
use sqlx::Row;
use tessera_core::{
    AccessKey, AppClient, CodePurpose, Group, KeyUse, MasterKey, OneTimeCode, SeededRandom,
    SigningKey, User, UserPool, UserStatus,
};

use crate::{AttemptLimit, CodeAction, Store, StoreError, UserChange};

/// A fresh, migrated database on one backend, dropped afterwards.
struct TestDb {
    store: Store,
    cleanup: Option<(String, String)>,
}

impl TestDb {
    async fn drop_db(self) {
        self.store.close().await;
        if let Some((admin_url, name)) = self.cleanup {
            use sqlx::Connection;
            let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await
                .unwrap();
        }
    }
}

fn master_key() -> Arc<MasterKey> {
    Arc::new(MasterKey::parse(&"42".repeat(32)).unwrap())
}

async fn sqlite() -> TestDb {
    let dir = std::env::temp_dir().join(format!("tessera-store-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("tessera.db").display());
    let store = Store::connect(&url, master_key(), Arc::new(SeededRandom::new(1)))
        .await
        .unwrap();
    TestDb {
        store,
        cleanup: None,
    }
}

async fn postgres() -> Option<TestDb> {
    let admin_url = match std::env::var("TESSERA_TEST_PG_URL") {
        Ok(url) => url,
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must set TESSERA_TEST_PG_URL"
            );
            return None;
        }
    };
    use sqlx::Connection;
    let name = format!("tessera_store_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let base = admin_url.rsplit_once('/').unwrap().0;
    let url = format!("{base}/{name}");
    let store = Store::connect(&url, master_key(), Arc::new(SeededRandom::new(1)))
        .await
        .unwrap();
    Some(TestDb {
        store,
        cleanup: Some((admin_url, name)),
    })
}

/// A PostgreSQL database whose store keeps the shared read cache, once it serves.
async fn postgres_shared() -> Option<TestDb> {
    let mut db = postgres().await?;
    db.store = db.store.with_shared_read_cache();
    serving(&db.store).await;
    Some(db)
}

/// Waits until a shared cache serves (its first heartbeat came back).
async fn serving(store: &Store) {
    for _ in 0..500 {
        if store.read_cache_serving() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the shared read cache did not start serving within 5 s");
}

/// Runs one suite function on every available backend.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(#[tokio::test] async fn $name() { let db = super::sqlite().await; super::$name(&db.store).await; db.drop_db().await; })*
        }
        mod postgres_backend {
            $(#[tokio::test] async fn $name() { if let Some(db) = super::postgres().await { super::$name(&db.store).await; db.drop_db().await; } })*
        }
        // `tessera serve` runs SQLite with the read cache; every answer must be the same.
        mod sqlite_cached {
            $(#[tokio::test] async fn $name() { let mut db = super::sqlite().await; db.store = db.store.with_read_cache(); super::$name(&db.store).await; db.drop_db().await; })*
        }
        // ... and PostgreSQL with the shared cache, which follows the database's notifications.
        mod postgres_cached {
            $(#[tokio::test] async fn $name() { if let Some(db) = super::postgres_shared().await { super::$name(&db.store).await; db.drop_db().await; } })*
        }
    };
}

conformance!(
    access_keys_round_trip_sealed,
    pools_round_trip,
    pools_list_in_pages,
    pool_delete_removes_children,
    signing_keys_round_trip_sealed,
    app_clients_round_trip,
    users_round_trip_with_aliases_and_codes,
    user_counts_follow_inserts_and_deletes,
    groups_and_members,
    filtered_listing_uses_the_index,
    prefix_filters_reach_the_largest_code_point,
    revocation_ends_sessions,
    reads_after_writes_see_the_writes,
    saves_from_an_old_read_are_stale,
    code_attempts_never_exceed_the_cap,
    codes_are_issued_without_touching_the_user,
    mfa_round_trips_sealed_and_steps_are_claimed_once,
    devices_are_confirmed_once_sealed_and_forgotten_with_their_tokens,
    rate_windows_count_every_lease_once,
    signing_keys_rotate_and_replaced_ones_are_swept,
    auth_events_page_newest_first_and_are_swept,
    issue16_master_key_rotation_reseals_every_value,
    issue16_recovery_journal_keeps_every_column,
    issue16_point_in_time_recovery_restores_the_journaled_state,
);

/// Issue 16: every journaled table is the one the recovery code knows, column for column, and
/// its history table keeps every column in the same order (PostgreSQL's triggers copy rows by
/// position), then the journal's own; on SQLite, whose triggers name columns, each trigger that
/// keeps an old row names every column. A column added to a table without its journal fails.
async fn issue16_recovery_journal_keeps_every_column(store: &Store) {
    let columns = |table: String| async move {
        let sql = match store.backend() {
            crate::Backend::Sqlite => {
                "SELECT name AS c FROM pragma_table_info($1) ORDER BY cid".to_owned()
            }
            crate::Backend::Postgres => "SELECT CAST(column_name AS TEXT) AS c FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position".to_owned(),
        };
        sqlx::query(&sql)
            .bind(table)
            .fetch_all(&store.pool)
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get::<String, _>("c").unwrap())
            .collect::<Vec<_>>()
    };
    for (table, known) in crate::journaled_tables() {
        assert_eq!(columns(table.to_owned()).await, known, "{table}");
        let mut expected: Vec<String> = known.iter().map(|c| (*c).to_owned()).collect();
        expected.extend(crate::recovery::JOURNAL_COLUMNS.map(String::from));
        assert_eq!(
            columns(format!("{table}_history")).await,
            expected,
            "{table}"
        );
        if store.backend() == crate::Backend::Sqlite {
            for trigger in ["update", "delete"] {
                let sql: String = sqlx::query(
                    "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = $1",
                )
                .bind(format!("{table}_journal_{trigger}"))
                .fetch_one(&store.pool)
                .await
                .unwrap()
                .try_get("sql")
                .unwrap();
                for column in &known {
                    assert!(
                        sql.contains(&format!("OLD.{column},")),
                        "{table}_journal_{trigger} misses {column}"
                    );
                }
            }
        }
    }
}

/// Issue 16: a restore puts back, from the journal, every user row, alias, index entry and
/// membership as it was at the recovery point (a deleted user returns, a later one goes, a
/// later edit is undone), keeps a password set since, counts the pool's users again, and
/// happens once; the preview said so beforehand.
async fn issue16_point_in_time_recovery_restores_the_journaled_state(store: &Store) {
    let p = pool("us-east-1_Restore00");
    store.insert_user_pool(&p, &[]).await.unwrap();
    let kept = user(&p.id, "kept", "sub-kept");
    let gone = user(&p.id, "gone", "sub-gone");
    let reused = user(&p.id, "reused", "sub-first");
    store.insert_user(change(&reused, "reused")).await.unwrap();
    let alias = [("email".to_owned(), "kept@example.com".to_owned())];
    store
        .insert_user(UserChange {
            aliases: Some(&alias),
            ..change(&kept, "kept")
        })
        .await
        .unwrap();
    store.insert_user(change(&gone, "gone")).await.unwrap();
    store
        .insert_group(&Group {
            pool_id: p.id.clone(),
            name: "staff".into(),
            description: None,
            precedence: None,
            role_arn: None,
            created_at: at(30),
            last_modified_at: at(30),
        })
        .await
        .unwrap();
    store
        .add_group_member(&p.id, "staff", "gone")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let point = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(20)).await;

    // After the point: an edit with a new password, a deletion, a new user.
    let mut edited = store.user(&p.id, "kept").await.unwrap().unwrap();
    edited
        .attributes
        .insert("email".into(), "changed@example.com".into());
    edited.password_hash = Some("$argon2id$new".into());
    edited.password_set_at = Some(SystemTime::now());
    let new_alias = [("email".to_owned(), "changed@example.com".to_owned())];
    assert!(store
        .save_user(UserChange {
            aliases: Some(&new_alias),
            ..change(&edited, "kept")
        })
        .await
        .unwrap());
    assert!(store.delete_user(&p.id, "gone").await.unwrap());
    let late = user(&p.id, "late", "sub-late");
    store.insert_user(change(&late, "late")).await.unwrap();
    // A name deleted and taken by someone else, who sets a password and signs in.
    assert!(store.delete_user(&p.id, "reused").await.unwrap());
    let taker = User {
        sub: "sub-second".into(),
        password_hash: Some("$argon2id$taker".into()),
        password_set_at: Some(SystemTime::now()),
        ..user(&p.id, "reused", "sub-second")
    };
    store.insert_user(change(&taker, "reused")).await.unwrap();
    store
        .insert_auth_event(&crate::AuthEvent {
            pool_id: p.id.clone(),
            username_key: "reused".into(),
            event_id: "event-of-the-taker".into(),
            event_type: "SignIn".into(),
            created_at: SystemTime::now(),
            response: "Pass".into(),
            challenges: "[]".into(),
            feedback: None,
        })
        .await
        .unwrap();

    let preview = store.recovery_preview(&p.id, point).await.unwrap();
    assert_eq!(
        preview.users,
        crate::PreviewCount {
            create: 1,
            update: 2,
            delete: 1
        }
    );
    let recovery = crate::Recovery {
        pool_id: p.id.clone(),
        restore_id: "restore-1".into(),
        status: "PREVIEW_GENERATED".into(),
        restore_at: point,
        triggered_at: SystemTime::now(),
        completed_at: None,
        preview: "[]".into(),
    };
    let long_ago = SystemTime::UNIX_EPOCH;
    store
        .insert_recovery(&recovery, long_ago)
        .await
        .unwrap()
        .unwrap();
    // One active recovery per pool.
    let second = crate::Recovery {
        restore_id: "restore-2".into(),
        ..recovery.clone()
    };
    assert_eq!(
        store.insert_recovery(&second, long_ago).await.unwrap(),
        Err(crate::RecoveryRefusal::Active)
    );
    assert_eq!(
        store
            .restore_recovery(&p.id, "restore-1", SystemTime::now())
            .await
            .unwrap(),
        crate::RestoreOutcome::Restored
    );
    assert_eq!(
        store
            .restore_recovery(&p.id, "restore-1", SystemTime::now())
            .await
            .unwrap(),
        crate::RestoreOutcome::NotInPreview
    );

    let back = store.user(&p.id, "kept").await.unwrap().unwrap();
    assert_eq!(back.attributes, kept.attributes);
    assert_eq!(back.password_hash.as_deref(), Some("$argon2id$new"));
    assert!(back.version > edited.version);
    let returned = store.user(&p.id, "gone").await.unwrap().unwrap();
    assert_eq!(returned.sub, "sub-gone");
    assert_eq!(returned.password_hash, gone.password_hash);
    assert_eq!(returned.srp_verifier, gone.srp_verifier);
    assert!(store.user(&p.id, "late").await.unwrap().is_none());
    // The name is its first user's again, with that user's password, and keeps nothing of the
    // one who took it.
    let first = store.user(&p.id, "reused").await.unwrap().unwrap();
    assert_eq!(first.sub, "sub-first");
    assert_eq!(first.password_hash, reused.password_hash);
    assert!(store
        .auth_events(&p.id, "reused", None, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.user_count(&p.id).await.unwrap(), 3);
    let groups = store.groups_of_user(&p.id, "gone").await.unwrap();
    assert_eq!(
        groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
        ["staff"]
    );
    // The alias of the e-mail address at the point names the user again, the later one nobody.
    assert_eq!(
        store
            .user_by_alias(&p.id, "email", "kept@example.com")
            .await
            .unwrap()
            .map(|(key, _)| key),
        Some("kept".to_owned())
    );
    assert!(store
        .user_by_alias(&p.id, "email", "changed@example.com")
        .await
        .unwrap()
        .is_none());
    let listed = store
        .list_recoveries(&p.id, None, 10, long_ago)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, "RESTORE_COMPLETED");
}

/// Issue 16: a master-key rotation. A store whose key ring is the new key and the suite's
/// (old) one opens what the old key sealed and seals it all again under the new key; a second
/// run finds nothing left; then the new key alone opens every value and the old one none.
async fn issue16_master_key_rotation_reseals_every_value(store: &Store) {
    let p = pool("us-east-1_Reseal000");
    let keys = [
        SigningKey::generate(KeyUse::Id, at(10)).unwrap(),
        SigningKey::generate(KeyUse::Access, at(10)).unwrap(),
    ];
    store.insert_user_pool(&p, &keys).await.unwrap();
    store
        .insert_app_client(&client(&p.id, "resealclient", Some("client-secret-1")))
        .await
        .unwrap();
    let access = AccessKey::generate(&SeededRandom::new(3), at(1));
    store.insert_access_key(&access).await.unwrap();
    let u = user(&p.id, "rotated", "sub-rotated");
    store.insert_user(change(&u, "rotated")).await.unwrap();

    let new_key = || MasterKey::parse(&"17".repeat(32)).unwrap();
    let ring = store.clone().with_master_key(Arc::new(
        new_key().with_previous(vec![MasterKey::parse(&"42".repeat(32)).unwrap()]),
    ));
    let first = ring.reseal().await.unwrap();
    // Two signing keys, the client secret, the access key and the SRP verifier at least.
    assert!(first.resealed >= 5, "{first:?}");
    assert_eq!(first.unreadable, 0, "{first:?}");
    let second = ring.reseal().await.unwrap();
    assert_eq!((second.resealed, second.unreadable), (0, 0), "{second:?}");
    assert_eq!(second.current, first.resealed + first.current);

    let only_new = store.clone().with_master_key(Arc::new(new_key()));
    assert_eq!(
        only_new
            .access_key(&access.id)
            .await
            .unwrap()
            .unwrap()
            .secret,
        access.secret
    );
    assert_eq!(only_new.signing_keys(&p.id).await.unwrap().len(), 2);
    let read = only_new
        .user_current(&p.id, "rotated")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.srp_verifier, u.srp_verifier);
    // The old key alone opens nothing any more.
    assert!(store.access_key(&access.id).await.is_err());
    assert!(store.signing_keys(&p.id).await.is_err());
}

/// Every sealed column of every migration is one `Store::reseal` covers: a new secret column
/// cannot be forgotten by a master-key rotation.
#[test]
fn issue16_reseal_covers_every_sealed_column() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join("sqlite");
    let mut found = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let mut table = String::new();
        for line in text.lines().map(str::trim) {
            if line.starts_with("--") {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            if let ["CREATE", "TABLE", name, ..] | ["ALTER", "TABLE", name, ..] = words[..] {
                table = name.trim_end_matches('(').to_owned();
            }
            if let Some(position) = words.iter().position(|w| w.starts_with("sealed_")) {
                let column = words[position].trim_end_matches([',', ')']);
                found.insert((table.clone(), column.to_owned()));
            }
        }
    }
    let covered: std::collections::BTreeSet<(String, String)> = crate::sealed_columns()
        .into_iter()
        .map(|(t, c)| (t.to_owned(), c.to_owned()))
        .collect();
    assert!(!found.is_empty());
    assert_eq!(found, covered);
}

/// Issue 16: a user's events come newest first, in pages that neither skip nor repeat one
/// (even when several share a millisecond), take feedback, are swept after the retention
/// and go with their user.
async fn auth_events_page_newest_first_and_are_swept(store: &Store) {
    let p = pool("us-east-1_Events000");
    store.insert_user_pool(&p, &[]).await.unwrap();
    store
        .insert_user(change(&user(&p.id, "hana", "sub-hana"), "hana"))
        .await
        .unwrap();
    for (i, second) in [10u64, 20, 20, 20, 30].into_iter().enumerate() {
        store
            .insert_auth_event(&crate::AuthEvent {
                pool_id: p.id.clone(),
                username_key: "hana".into(),
                event_id: format!("e{i}"),
                event_type: "SignIn".into(),
                created_at: at(second),
                response: "Pass".into(),
                challenges: "[]".into(),
                feedback: None,
            })
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut after: Option<(i64, String)> = None;
    loop {
        let page = store
            .auth_events(
                &p.id,
                "hana",
                after.as_ref().map(|(t, id)| (*t, id.as_str())),
                2,
            )
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        after = Some((crate::store::millis(last.created_at), last.event_id.clone()));
        seen.extend(page.into_iter().map(|e| e.event_id));
    }
    assert_eq!(seen, ["e4", "e3", "e2", "e1", "e0"]);
    assert!(store
        .set_auth_event_feedback(&p.id, "hana", "e2", ("Invalid", "Admin", at(40)))
        .await
        .unwrap());
    assert!(!store
        .set_auth_event_feedback(&p.id, "hana", "nope", ("Valid", "Admin", at(40)))
        .await
        .unwrap());
    let events = store.auth_events(&p.id, "hana", None, 10).await.unwrap();
    assert_eq!(
        events[2].feedback,
        Some(("Invalid".into(), "Admin".into(), at(40)))
    );
    assert_eq!(store.sweep_auth_events(at(20)).await.unwrap(), 1);
    assert_eq!(
        store
            .auth_events(&p.id, "hana", None, 10)
            .await
            .unwrap()
            .len(),
        4
    );
    assert!(store.delete_user(&p.id, "hana").await.unwrap());
    assert!(store
        .auth_events(&p.id, "hana", None, 10)
        .await
        .unwrap()
        .is_empty());
}

/// Issue 16: a rotation adds keys (the pool's generation of keys moves on where a cache
/// follows them); a key is swept only once a newer key of its use was created before the
/// bound, so a key that still signs is never swept.
async fn signing_keys_rotate_and_replaced_ones_are_swept(store: &Store) {
    let p = pool("us-east-1_Rotate000");
    let first = [
        SigningKey::generate(KeyUse::Id, at(10)).unwrap(),
        SigningKey::generate(KeyUse::Access, at(10)).unwrap(),
    ];
    store.insert_user_pool(&p, &first).await.unwrap();
    let generation = store.keys_generation();
    let second = [
        SigningKey::generate(KeyUse::Id, at(20)).unwrap(),
        SigningKey::generate(KeyUse::Access, at(20)).unwrap(),
    ];
    assert!(store.add_signing_keys(&p.id, &second).await.unwrap());
    assert!(!store
        .add_signing_keys("us-east-1_Nothing00", &second[..1])
        .await
        .unwrap());
    if store.cache.is_some() {
        assert_ne!(store.keys_generation(), generation);
    }
    assert_eq!(store.signing_keys(&p.id).await.unwrap().len(), 4);
    // Replaced at 20: kept while the bound is at or before it, swept after.
    assert_eq!(store.sweep_replaced_signing_keys(at(20)).await.unwrap(), 0);
    assert_eq!(store.sweep_replaced_signing_keys(at(21)).await.unwrap(), 2);
    let mut kept: Vec<String> = store
        .signing_keys(&p.id)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    let mut expected: Vec<String> = second.iter().map(|k| k.kid.clone()).collect();
    kept.sort();
    expected.sort();
    assert_eq!(kept, expected);
    // The newest keys are never swept, however old.
    assert_eq!(
        store
            .sweep_replaced_signing_keys(at(1_000_000))
            .await
            .unwrap(),
        0
    );
}

/// Issue 16: leases from one window, many at once, add up exactly; windows and scopes are
/// apart; provisioned rates are replaced; a sweep forgets old windows.
async fn rate_windows_count_every_lease_once(store: &Store) {
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.lease_rate("pool-a/UserRead", 1_000, 6).await })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap().unwrap());
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..=20).map(|i| i * 6).collect::<Vec<u64>>());
    assert_eq!(
        store.lease_rate("pool-a/UserRead", 1_001, 1).await.unwrap(),
        1
    );
    assert_eq!(
        store.lease_rate("pool-b/UserRead", 1_000, 2).await.unwrap(),
        2
    );
    assert_eq!(
        store
            .provisioned_rate("us-east-1", "UserRead")
            .await
            .unwrap(),
        None
    );
    store
        .set_provisioned_rate("us-east-1", "UserRead", 300)
        .await
        .unwrap();
    store
        .set_provisioned_rate("us-east-1", "UserRead", 500)
        .await
        .unwrap();
    assert_eq!(
        store
            .provisioned_rate("us-east-1", "UserRead")
            .await
            .unwrap(),
        Some(500)
    );
    assert_eq!(
        store
            .provisioned_rate("eu-west-1", "UserRead")
            .await
            .unwrap(),
        None
    );
    // Windows are seconds since the epoch; the sweep forgets those a minute old.
    store
        .sweep_expired(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_100),
            Duration::from_secs(900),
        )
        .await
        .unwrap();
    assert_eq!(
        store.lease_rate("pool-a/UserRead", 1_000, 1).await.unwrap(),
        1
    );
}

/// The transient state (challenge sessions, attempt counters) is committed without an fsync
/// of its own on SQLite (see `Store::connect`), and only it: the durable pool keeps FULL,
/// which the test above checks.
#[tokio::test]
async fn sqlite_transient_state_commits_without_its_own_fsync() {
    let db = sqlite().await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut conn = db.store.transient.acquire().await.unwrap();
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(
            synchronous, 1,
            "PRAGMA synchronous of transient state is not NORMAL"
        );
        held.push(conn);
    }
    drop(held);
    db.drop_db().await;
}

/// On PostgreSQL the transient state is committed with `synchronous_commit = off` (see
/// `Store::connect`), and only it: the durable pool keeps the server's default, `on`.
#[tokio::test]
async fn postgres_transient_state_commits_without_waiting_for_the_flush() {
    let Some(db) = postgres().await else { return };
    for (pool, expected) in [(&db.store.transient, "off"), (&db.store.pool, "on")] {
        let mut held = Vec::new();
        for _ in 0..4 {
            let mut conn = pool.acquire().await.unwrap();
            let setting: String =
                sqlx::query_scalar("SELECT current_setting('synchronous_commit')")
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap();
            assert_eq!(setting, expected);
            held.push(conn);
        }
    }
    db.drop_db().await;
}

/// What survives a crash or a power loss rests on two settings of every SQLite connection
/// (see `Store::connect`): the WAL, and `synchronous=FULL`, which fsyncs the WAL at every
/// commit. tessera sets only the first; the second is SQLite's compiled default, which a
/// change of sqlx or of its bundled SQLite could move, so every pooled connection is asked.
#[tokio::test]
async fn sqlite_connections_sync_every_commit() {
    let db = sqlite().await;
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut conn = db.store.pool.acquire().await.unwrap();
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(synchronous, 2, "PRAGMA synchronous is not FULL");
        let journal_mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(journal_mode, "wal");
        held.push(conn);
    }
    drop(held);
    db.drop_db().await;
}

fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(seconds * 1000 + 123)
}

fn pool(id: &str) -> UserPool {
    let mut settings = Map::new();
    settings.insert("MfaConfiguration".into(), json!("OFF"));
    settings.insert("UserPoolTags".into(), json!({"team": "a"}));
    UserPool {
        id: id.into(),
        name: format!("name-{id}"),
        created_at: at(1_700_000_000),
        last_modified_at: at(1_700_000_000),
        settings,
    }
}

fn client(pool_id: &str, id: &str, secret: Option<&str>) -> AppClient {
    let mut settings = Map::new();
    settings.insert("ExplicitAuthFlows".into(), json!(["ALLOW_USER_SRP_AUTH"]));
    AppClient {
        user_pool_id: pool_id.into(),
        client_id: id.into(),
        client_name: "web".into(),
        secret: secret.map(String::from),
        created_at: at(1_700_000_001),
        last_modified_at: at(1_700_000_001),
        settings,
    }
}

pub(crate) async fn all_bytes(store: &Store, sql: &str) -> Vec<Vec<u8>> {
    sqlx::query(sql)
        .fetch_all(&store.pool)
        .await
        .unwrap()
        .iter()
        .filter_map(|row| row.try_get::<Option<Vec<u8>>, _>(0).unwrap())
        .collect()
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn access_keys_round_trip_sealed(store: &Store) {
    let key = AccessKey::generate(&SeededRandom::new(2), at(1));
    store.insert_access_key(&key).await.unwrap();
    let loaded = store.access_key(&key.id).await.unwrap().unwrap();
    assert_eq!(loaded.secret, key.secret);
    assert_eq!(loaded.created_at, key.created_at);
    assert!(store.access_key("AKIANOPE").await.unwrap().is_none());
    assert!(matches!(
        store.insert_access_key(&key).await,
        Err(StoreError::Conflict)
    ));
    for sealed in all_bytes(store, "SELECT sealed_secret FROM access_keys").await {
        assert!(!contains(&sealed, key.secret.as_bytes()));
    }
}

async fn pools_round_trip(store: &Store) {
    let mut p = pool("us-east-1_AAAAAAAAA");
    store.insert_user_pool(&p, &[]).await.unwrap();
    assert_eq!(store.user_pool(&p.id).await.unwrap().unwrap().as_ref(), &p);
    assert!(matches!(
        store.insert_user_pool(&p, &[]).await,
        Err(StoreError::Conflict)
    ));
    p.name = "renamed".into();
    p.settings.insert("MfaConfiguration".into(), json!("ON"));
    p.last_modified_at = at(1_700_000_500);
    assert!(store.update_user_pool(&p).await.unwrap());
    assert_eq!(store.user_pool(&p.id).await.unwrap().unwrap().as_ref(), &p);
    assert!(!store
        .update_user_pool(&pool("us-east-1_missing00"))
        .await
        .unwrap());
    assert!(store
        .user_pool("us-east-1_missing00")
        .await
        .unwrap()
        .is_none());
}

async fn pools_list_in_pages(store: &Store) {
    let ids: Vec<String> = (0..7).map(|i| format!("us-east-1_Pool{i:05}")).collect();
    for id in ids.iter().rev() {
        store.insert_user_pool(&pool(id), &[]).await.unwrap();
    }
    // Pools of other regions, some of whose ids sort between and around us-east-1's, are
    // never listed with them.
    for other in [
        "us-east-10_Pool00000",
        "us-east-1Pool",
        "us-east_Pool0",
        "eu-west-1_Pool00000",
    ] {
        store.insert_user_pool(&pool(other), &[]).await.unwrap();
    }
    let listed = store.list_user_pools("eu-west-1", None, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list_user_pools("us-east-1", after.as_deref(), 3)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|p| p.id.clone());
        seen.extend(page.into_iter().map(|p| p.id));
    }
    assert_eq!(seen, ids);
}

async fn pool_delete_removes_children(store: &Store) {
    let p = pool("us-east-1_Delete000");
    let key = SigningKey::generate(KeyUse::Access, at(5)).unwrap();
    store.insert_user_pool(&p, &[key]).await.unwrap();
    store
        .insert_app_client(&client(&p.id, "clientdelete", Some("s3cret")))
        .await
        .unwrap();
    assert!(store.delete_user_pool(&p.id).await.unwrap());
    assert!(!store.delete_user_pool(&p.id).await.unwrap());
    assert!(store.app_client("clientdelete").await.unwrap().is_none());
    assert!(store.public_jwks(&p.id).await.unwrap().is_none());
    assert!(store.signing_keys(&p.id).await.unwrap().is_empty());
}

async fn signing_keys_round_trip_sealed(store: &Store) {
    let p = pool("us-east-1_Keys00000");
    let id_key = SigningKey::generate(KeyUse::Id, at(10)).unwrap();
    let access_key = SigningKey::generate(KeyUse::Access, at(11)).unwrap();
    let expected: Vec<Value> = vec![id_key.public_jwk(), access_key.public_jwk()];
    let pkcs8 = id_key.pkcs8().to_vec();
    store
        .insert_user_pool(&p, &[id_key, access_key])
        .await
        .unwrap();
    assert_eq!(store.public_jwks(&p.id).await.unwrap().unwrap(), expected);
    let keys = store.signing_keys(&p.id).await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].key_use, KeyUse::Id);
    assert_eq!(keys[0].pkcs8(), pkcs8.as_slice());
    for sealed in all_bytes(store, "SELECT sealed_private_key FROM signing_keys").await {
        assert!(!contains(&sealed, &pkcs8[..64]));
    }
    // A pool without keys has an empty key set, not a missing one.
    store
        .insert_user_pool(&pool("us-east-1_NoKeys000"), &[])
        .await
        .unwrap();
    assert_eq!(
        store.public_jwks("us-east-1_NoKeys000").await.unwrap(),
        Some(vec![])
    );
}

async fn app_clients_round_trip(store: &Store) {
    let p = pool("us-east-1_Clients00");
    store.insert_user_pool(&p, &[]).await.unwrap();
    let mut c = client(&p.id, "client0001", Some("topsecretvalue"));
    store.insert_app_client(&c).await.unwrap();
    store
        .insert_app_client(&client(&p.id, "client0002", None))
        .await
        .unwrap();
    store
        .insert_app_client(&client(&p.id, "client0003", None))
        .await
        .unwrap();
    assert!(matches!(
        store.insert_app_client(&c).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.app_client("client0001").await.unwrap().unwrap(), c);
    assert!(store
        .app_client("client0002")
        .await
        .unwrap()
        .unwrap()
        .secret
        .is_none());
    c.client_name = "renamed".into();
    c.settings
        .insert("EnableTokenRevocation".into(), json!(false));
    assert!(store.update_app_client(&c).await.unwrap());
    assert_eq!(store.app_client("client0001").await.unwrap().unwrap(), c);
    let page = store
        .list_app_clients(&p.id, Some("client0001"), 10)
        .await
        .unwrap();
    assert_eq!(
        page.iter()
            .map(|c| c.client_id.as_str())
            .collect::<Vec<_>>(),
        ["client0002", "client0003"]
    );
    assert!(!store
        .delete_app_client("us-east-1_other0000", "client0002")
        .await
        .unwrap());
    assert!(store.delete_app_client(&p.id, "client0002").await.unwrap());
    assert!(store.app_client("client0002").await.unwrap().is_none());
    for sealed in all_bytes(store, "SELECT sealed_secret FROM app_clients").await {
        assert!(!contains(&sealed, b"topsecretvalue"));
    }
}

#[test]
fn migrations_are_kept_in_step_between_backends() {
    let names = |backend: &str| -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names("sqlite"), names("postgres"));
    assert!(!names("sqlite").is_empty());
}

fn user(pool_id: &str, username: &str, sub: &str) -> User {
    User {
        pool_id: pool_id.into(),
        username: username.into(),
        sub: sub.into(),
        status: UserStatus::Unconfirmed,
        enabled: true,
        attributes: [("email".to_string(), format!("{username}@example.com"))]
            .into_iter()
            .collect(),
        password_hash: Some("$argon2id$fake".into()),
        password_set_at: Some(at(20)),
        srp_verifier: Some(tessera_core::SrpVerifier {
            salt: vec![1, 2, 3],
            verifier: b"verifier-bytes".to_vec(),
        }),
        mfa: Default::default(),
        created_at: at(20),
        last_modified_at: at(20),
        version: 0,
    }
}

fn change<'a>(user: &'a User, key: &'a str) -> UserChange<'a> {
    UserChange {
        user,
        key,
        aliases: None,
        put_code: None,
        consume_codes: &[],
    }
}

/// The count behind EstimatedNumberOfUsers moves with every committed insert and delete,
/// and only with those.
async fn user_counts_follow_inserts_and_deletes(store: &Store) {
    let p = pool("us-east-1_Counts000");
    let other = pool("us-east-1_Counts001");
    store.insert_user_pool(&p, &[]).await.unwrap();
    store.insert_user_pool(&other, &[]).await.unwrap();
    assert_eq!(store.user_count(&p.id).await.unwrap(), 0);

    let users: Vec<(User, String)> = (0..40)
        .map(|n| {
            (
                user(
                    &p.id,
                    &format!("u{n}"),
                    &format!("00000000-0000-4000-8000-1{n:011}"),
                ),
                format!("u{n}"),
            )
        })
        .collect();
    let changes: Vec<UserChange> = users.iter().map(|(u, k)| change(u, k)).collect();
    store.insert_users(&changes).await.unwrap();
    let one = user(&other.id, "solo", "00000000-0000-4000-8000-200000000001");
    store.insert_user(change(&one, "solo")).await.unwrap();
    assert_eq!(store.user_count(&p.id).await.unwrap(), 40);
    assert_eq!(store.user_count(&other.id).await.unwrap(), 1);

    // A batch that fails is rolled back with its count.
    let fresh = user(&p.id, "fresh", "00000000-0000-4000-8000-300000000001");
    let taken = user(&p.id, "u3", "00000000-0000-4000-8000-300000000002");
    assert!(matches!(
        store
            .insert_users(&[change(&fresh, "fresh"), change(&taken, "u3")])
            .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.user_count(&p.id).await.unwrap(), 40);

    for n in 0..10 {
        assert!(store.delete_user(&p.id, &format!("u{n}")).await.unwrap());
    }
    assert!(!store.delete_user(&p.id, "u0").await.unwrap());
    assert!(!store.delete_user(&p.id, "nobody").await.unwrap());
    assert_eq!(store.user_count(&p.id).await.unwrap(), 30);
    assert_eq!(store.count_users(&p.id).await.unwrap(), 30);

    assert!(store.delete_user_pool(&p.id).await.unwrap());
    assert_eq!(store.user_count(&p.id).await.unwrap(), 0);
    store.insert_user_pool(&p, &[]).await.unwrap();
    assert_eq!(store.user_count(&p.id).await.unwrap(), 0);
    assert_eq!(store.user_count(&other.id).await.unwrap(), 1);
}

async fn users_round_trip_with_aliases_and_codes(store: &Store) {
    let p = pool("us-east-1_Users0000");
    store.insert_user_pool(&p, &[]).await.unwrap();
    let alice = user(&p.id, "Alice", "00000000-0000-4000-8000-000000000001");
    let aliases = vec![("email".to_string(), "alice@example.com".to_string())];
    let code = OneTimeCode {
        purpose: CodePurpose::SignUp,
        code: "123456".into(),
        expires_at: at(100),
        pending_value: None,
    };
    store
        .insert_user(UserChange {
            aliases: Some(&aliases),
            put_code: Some(&code),
            ..change(&alice, "alice")
        })
        .await
        .unwrap();
    assert_eq!(store.user(&p.id, "alice").await.unwrap().unwrap(), alice);
    assert_eq!(store.count_users(&p.id).await.unwrap(), 1);
    assert_eq!(
        store
            .code(&p.id, "alice", CodePurpose::SignUp)
            .await
            .unwrap()
            .unwrap(),
        code
    );
    assert!(store
        .code(&p.id, "alice", CodePurpose::ForgotPassword)
        .await
        .unwrap()
        .is_none());
    for sealed in all_bytes(store, "SELECT sealed_code FROM user_codes").await {
        assert!(!contains(&sealed, b"123456"));
    }
    for sealed in all_bytes(store, "SELECT sealed_srp FROM users").await {
        assert!(!contains(&sealed, b"verifier-bytes"));
    }

    // The same username, the same sub or the same alias belong to one user only.
    let twin = user(&p.id, "alice", "00000000-0000-4000-8000-000000000002");
    assert!(matches!(
        store.insert_user(change(&twin, "alice")).await,
        Err(StoreError::Conflict)
    ));
    let bob = user(&p.id, "bob", "00000000-0000-4000-8000-000000000001");
    assert!(matches!(
        store.insert_user(change(&bob, "bob")).await,
        Err(StoreError::Conflict)
    ));
    let bob = user(&p.id, "bob", "00000000-0000-4000-8000-000000000003");
    let result = store
        .insert_user(UserChange {
            aliases: Some(&aliases),
            ..change(&bob, "bob")
        })
        .await;
    assert!(matches!(result, Err(StoreError::AliasTaken(ref kind)) if kind == "email"));
    assert!(
        store.user(&p.id, "bob").await.unwrap().is_none(),
        "a failed insert leaves nothing"
    );
    store.insert_user(change(&bob, "bob")).await.unwrap();

    let (key, found) = store
        .user_by_alias(&p.id, "email", "alice@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((key.as_str(), found.username.as_str()), ("alice", "Alice"));

    // Confirming: status, aliases and the consumed code change together.
    let mut confirmed = alice.clone();
    confirmed.status = UserStatus::Confirmed;
    confirmed
        .attributes
        .insert("email_verified".into(), "true".into());
    let no_aliases: Vec<(String, String)> = vec![];
    assert!(store
        .save_user(UserChange {
            aliases: Some(&no_aliases),
            consume_codes: &[CodePurpose::SignUp],
            ..change(&confirmed, "alice")
        })
        .await
        .unwrap());
    // The stored row moved on to the next version.
    confirmed.version += 1;
    assert_eq!(
        store.user(&p.id, "alice").await.unwrap().unwrap(),
        confirmed
    );
    assert!(store
        .code(&p.id, "alice", CodePurpose::SignUp)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .user_by_alias(&p.id, "email", "alice@example.com")
        .await
        .unwrap()
        .is_none());
    // A save whose alias is taken changes nothing.
    let bob_aliases = vec![("email".to_string(), "bob@example.com".to_string())];
    store
        .save_user(UserChange {
            aliases: Some(&bob_aliases),
            ..change(&bob, "bob")
        })
        .await
        .unwrap();
    let mut stolen = confirmed.clone();
    stolen.status = UserStatus::ResetRequired;
    let result = store
        .save_user(UserChange {
            aliases: Some(&bob_aliases),
            ..change(&stolen, "alice")
        })
        .await;
    assert!(matches!(result, Err(StoreError::AliasTaken(_))));
    assert_eq!(
        store.user(&p.id, "alice").await.unwrap().unwrap(),
        confirmed
    );
    assert!(!store
        .save_user(change(&user(&p.id, "ghost", "x"), "ghost"))
        .await
        .unwrap());

    let listed = store.list_users(&p.id, None, 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["alice", "bob"]
    );
    assert_eq!(
        store
            .list_users(&p.id, Some("alice"), 10)
            .await
            .unwrap()
            .len(),
        1
    );

    assert!(store.delete_user(&p.id, "bob").await.unwrap());
    assert!(!store.delete_user(&p.id, "bob").await.unwrap());
    assert!(store
        .user_by_alias(&p.id, "email", "bob@example.com")
        .await
        .unwrap()
        .is_none());
    assert!(store.delete_user_pool(&p.id).await.unwrap());
    assert!(store.user(&p.id, "alice").await.unwrap().is_none());
}

async fn groups_and_members(store: &Store) {
    let p = pool("us-east-1_Groups000");
    store.insert_user_pool(&p, &[]).await.unwrap();
    let group = |name: &str, precedence: Option<i64>| Group {
        pool_id: p.id.clone(),
        name: name.into(),
        description: Some(format!("the {name}s")),
        precedence,
        role_arn: None,
        created_at: at(30),
        last_modified_at: at(30),
    };
    store.insert_group(&group("admin", Some(1))).await.unwrap();
    store.insert_group(&group("reader", None)).await.unwrap();
    store.insert_group(&group("editor", Some(0))).await.unwrap();
    assert!(matches!(
        store.insert_group(&group("admin", None)).await,
        Err(StoreError::Conflict)
    ));
    let mut admin = group("admin", Some(5));
    admin.role_arn = Some("arn:aws:iam::000000000000:role/admin".into());
    assert!(store.update_group(&admin).await.unwrap());
    assert_eq!(store.group(&p.id, "admin").await.unwrap().unwrap(), admin);
    let names: Vec<String> = store
        .list_groups(&p.id, None, 2)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(names, ["admin", "editor"]);

    let u = user(&p.id, "carol", "00000000-0000-4000-8000-00000000000c");
    store.insert_user(change(&u, "carol")).await.unwrap();
    for name in ["reader", "admin", "editor", "admin"] {
        store.add_group_member(&p.id, name, "carol").await.unwrap();
    }
    let names: Vec<String> = store
        .groups_of_user(&p.id, "carol")
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(names, ["editor", "admin", "reader"]);
    assert_eq!(
        store
            .group_members(&p.id, "admin", None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    store
        .remove_group_member(&p.id, "admin", "carol")
        .await
        .unwrap();
    assert!(store
        .group_members(&p.id, "admin", None, 10)
        .await
        .unwrap()
        .is_empty());
    let names = |groups: Vec<Group>| groups.into_iter().map(|g| g.name).collect::<Vec<_>>();
    assert_eq!(
        names(store.groups_of_user(&p.id, "carol").await.unwrap()),
        ["editor", "reader"]
    );
    // A changed precedence reorders the member's groups (and so its token's claims).
    assert!(store.update_group(&group("reader", Some(3))).await.unwrap());
    assert!(store.update_group(&group("editor", Some(9))).await.unwrap());
    assert_eq!(
        names(store.groups_of_user(&p.id, "carol").await.unwrap()),
        ["reader", "editor"]
    );
    assert!(store.delete_group(&p.id, "reader").await.unwrap());
    assert_eq!(store.groups_of_user(&p.id, "carol").await.unwrap().len(), 1);
    assert!(store.delete_user(&p.id, "carol").await.unwrap());
    assert!(store
        .group_members(&p.id, "editor", None, 10)
        .await
        .unwrap()
        .is_empty());
}

async fn filtered_listing_uses_the_index(store: &Store) {
    let p = pool("us-east-1_Filter000");
    store.insert_user_pool(&p, &[]).await.unwrap();
    let names = ["amy", "anna", "bob", "ann", "zed"];
    for (i, name) in names.iter().enumerate() {
        let mut u = user(
            &p.id,
            name,
            &format!("00000000-0000-4000-8000-00000000010{i}"),
        );
        u.attributes
            .insert("email".into(), format!("{name}@example.com"));
        store.insert_user(change(&u, name)).await.unwrap();
    }
    let keys =
        |rows: Vec<(String, String, User)>| rows.into_iter().map(|(k, _, _)| k).collect::<Vec<_>>();
    let found = store
        .list_users_filtered(&p.id, "email", "an", true, None, 10)
        .await
        .unwrap();
    assert_eq!(keys(found), ["ann", "anna"]);
    let found = store
        .list_users_filtered(&p.id, "email", "bob@example.com", false, None, 10)
        .await
        .unwrap();
    assert_eq!(keys(found), ["bob"]);
    assert!(store
        .list_users_filtered(&p.id, "email", "bob", false, None, 10)
        .await
        .unwrap()
        .is_empty());
    // Pages follow (value, key) order.
    let first = store
        .list_users_filtered(&p.id, "cognito:user_status", "UNCONFIRMED", false, None, 2)
        .await
        .unwrap();
    assert_eq!(keys(first.clone()), ["amy", "ann"]);
    let last = &first[1];
    let rest = store
        .list_users_filtered(
            &p.id,
            "cognito:user_status",
            "UNCONFIRMED",
            false,
            Some((&last.1, &last.0)),
            10,
        )
        .await
        .unwrap();
    assert_eq!(keys(rest), ["anna", "bob", "zed"]);
    // A prefix filter pages the same way; a token from before the filter's range starts at
    // its first match, and one past it ends the listing.
    let prefix = |after: Option<(&'static str, &'static str)>, limit| {
        store.list_users_filtered(&p.id, "email", "an", true, after, limit)
    };
    let page = prefix(None, 1).await.unwrap();
    assert_eq!(keys(page.clone()), ["ann"]);
    let token = (page[0].1.clone(), page[0].0.clone());
    let rest = store
        .list_users_filtered(&p.id, "email", "an", true, Some((&token.0, &token.1)), 10)
        .await
        .unwrap();
    assert_eq!(keys(rest), ["anna"]);
    assert_eq!(
        keys(prefix(Some(("aaa@example.com", "zzz")), 10).await.unwrap()),
        ["ann", "anna"]
    );
    assert!(prefix(Some(("bob@example.com", "bob")), 10)
        .await
        .unwrap()
        .is_empty());
    // The index follows updates and deletions.
    let (_, _, mut bob) = store
        .list_users_filtered(&p.id, "username", "bob", false, None, 1)
        .await
        .unwrap()
        .remove(0);
    bob.status = UserStatus::Confirmed;
    bob.enabled = false;
    store.save_user(change(&bob, "bob")).await.unwrap();
    assert_eq!(
        keys(
            store
                .list_users_filtered(&p.id, "cognito:user_status", "CONFIRMED", false, None, 10)
                .await
                .unwrap()
        ),
        ["bob"]
    );
    assert_eq!(
        keys(
            store
                .list_users_filtered(&p.id, "status", "Disabled", false, None, 10)
                .await
                .unwrap()
        ),
        ["bob"]
    );
    store.delete_user(&p.id, "bob").await.unwrap();
    assert!(store
        .list_users_filtered(&p.id, "status", "Disabled", false, None, 10)
        .await
        .unwrap()
        .is_empty());
    // Another pool's users never show.
    let other = pool("us-east-1_Filter001");
    store.insert_user_pool(&other, &[]).await.unwrap();
    assert!(store
        .list_users_filtered(&other.id, "email", "a", true, None, 10)
        .await
        .unwrap()
        .is_empty());
}

/// A prefix admits every value that starts with it, also those that continue with U+10FFFF
/// (a range ending at `prefix + U+10FFFF` left them out), and the empty prefix admits all.
async fn prefix_filters_reach_the_largest_code_point(store: &Store) {
    let p = pool("us-east-1_Filter002");
    store.insert_user_pool(&p, &[]).await.unwrap();
    let names = [
        "ab",
        "ab\u{10FFFF}",
        "ab\u{10FFFF}c",
        "ac",
        "\u{10FFFF}",
        "\u{10FFFF}\u{10FFFF}z",
        "\u{D7FF}x",
        "\u{E000}",
    ];
    for (i, name) in names.iter().enumerate() {
        let key = format!("user{i}");
        let mut u = user(
            &p.id,
            &key,
            &format!("00000000-0000-4000-8000-00000000020{i}"),
        );
        u.attributes.insert("name".into(), (*name).to_owned());
        store.insert_user(change(&u, &key)).await.unwrap();
    }
    let pool_id = p.id.as_str();
    let found = |prefix: &'static str| async move {
        let mut names: Vec<String> = store
            .list_users_filtered(pool_id, "name", prefix, true, None, 60)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, value, _)| value)
            .collect();
        names.sort();
        names
    };
    assert_eq!(found("ab").await, ["ab", "ab\u{10FFFF}", "ab\u{10FFFF}c"]);
    assert_eq!(
        found("ab\u{10FFFF}").await,
        ["ab\u{10FFFF}", "ab\u{10FFFF}c"]
    );
    assert_eq!(
        found("\u{10FFFF}").await,
        ["\u{10FFFF}", "\u{10FFFF}\u{10FFFF}z"]
    );
    assert_eq!(found("\u{D7FF}").await, ["\u{D7FF}x"]);
    assert_eq!(found("").await.len(), names.len());
}

fn refresh(pool_id: &str, key: &str, hash: &str, origin: &str) -> crate::RefreshRecord {
    crate::RefreshRecord {
        token_hash: hash.to_owned(),
        pool_id: pool_id.to_owned(),
        username_key: key.to_owned(),
        client_id: "client".to_owned(),
        origin_jti: origin.to_owned(),
        auth_time: at(100),
        expires_at: at(10_000),
        created_at: at(100),
        revoked: false,
        rotated: false,
        scope: None,
        device_key: None,
    }
}

/// Sessions end when their refresh token is revoked, when the user signs out everywhere,
/// and not when a token is rotated. Each check follows a read of the same session, so that
/// a cache that missed the revocation would answer the old value.
async fn revocation_ends_sessions(store: &Store) {
    store
        .insert_user_pool(&pool("us-east-1_tok"), &[])
        .await
        .unwrap();
    let pool_id = "us-east-1_tok";
    for (hash, origin) in [("h1", "o1"), ("h2", "o2"), ("h3", "o3")] {
        store
            .insert_refresh_token(&refresh(pool_id, "alice", hash, origin), None)
            .await
            .unwrap();
    }
    store
        .insert_refresh_token(&refresh(pool_id, "bob", "h4", "o4"), None)
        .await
        .unwrap();
    for origin in ["o1", "o2", "o3", "o4", "unknown"] {
        assert!(!store.origin_revoked(origin).await.unwrap(), "{origin}");
    }
    // Rotation replaces the token but keeps the session.
    assert!(store
        .insert_refresh_token(&refresh(pool_id, "alice", "h1b", "o1"), Some("h1"))
        .await
        .unwrap());
    assert!(!store.origin_revoked("o1").await.unwrap());
    assert!(store.refresh_token("h1").await.unwrap().unwrap().rotated);
    // A second rotation of the same token (two refreshes raced) stores nothing.
    assert!(!store
        .insert_refresh_token(&refresh(pool_id, "alice", "h1c", "o1"), Some("h1"))
        .await
        .unwrap());
    assert_eq!(store.refresh_token("h1c").await.unwrap(), None);
    store.revoke_refresh_token("h2").await.unwrap();
    assert!(store.origin_revoked("o2").await.unwrap());
    assert!(!store.origin_revoked("o1").await.unwrap());
    assert!(!store.origin_revoked("o4").await.unwrap());
    store.revoke_user_tokens(pool_id, "alice").await.unwrap();
    for origin in ["o1", "o2", "o3"] {
        assert!(store.origin_revoked(origin).await.unwrap(), "{origin}");
    }
    assert!(!store.origin_revoked("o4").await.unwrap());
    // A token stored already revoked (a replayed rotation) ends its session at once.
    let mut replayed = refresh(pool_id, "bob", "h5", "o4");
    replayed.revoked = true;
    store.insert_refresh_token(&replayed, None).await.unwrap();
    assert!(store.origin_revoked("o4").await.unwrap());
}

/// Every write is visible to the next read of the same row: users saved and deleted, pools
/// updated and deleted (with their users).
async fn reads_after_writes_see_the_writes(store: &Store) {
    let mut p = pool("us-east-1_rw");
    store.insert_user_pool(&p, &[]).await.unwrap();
    assert_eq!(store.user_pool(&p.id).await.unwrap().unwrap().name, p.name);
    p.name = "renamed".into();
    assert!(store.update_user_pool(&p).await.unwrap());
    assert_eq!(
        store.user_pool(&p.id).await.unwrap().unwrap().name,
        "renamed"
    );

    let mut u = user(&p.id, "carol", "sub-carol");
    store.insert_user(change(&u, "carol")).await.unwrap();
    assert!(store.user(&p.id, "carol").await.unwrap().unwrap().enabled);
    u.enabled = false;
    u.attributes
        .insert("email".into(), "carol@example.com".into());
    assert!(store.save_user(change(&u, "carol")).await.unwrap());
    let read = store.user(&p.id, "carol").await.unwrap().unwrap();
    assert!(!read.enabled);
    assert_eq!(read.attributes.get("email").unwrap(), "carol@example.com");
    assert!(store.delete_user(&p.id, "carol").await.unwrap());
    assert!(store.user(&p.id, "carol").await.unwrap().is_none());

    // The same name again is another user.
    let again = user(&p.id, "carol", "sub-carol-2");
    store.insert_user(change(&again, "carol")).await.unwrap();
    assert_eq!(
        store.user(&p.id, "carol").await.unwrap().unwrap().sub,
        "sub-carol-2"
    );
    assert!(store.delete_user_pool(&p.id).await.unwrap());
    assert!(store.user_pool(&p.id).await.unwrap().is_none());
    assert!(store.user(&p.id, "carol").await.unwrap().is_none());
}

/// Two writes prepared from the same read: the first lands, the second is refused as stale
/// and changes nothing, so it cannot undo the first; redone from a fresh read it lands.
async fn saves_from_an_old_read_are_stale(store: &Store) {
    let p = pool("us-east-1_Stale0000");
    store.insert_user_pool(&p, &[]).await.unwrap();
    store
        .insert_user(change(&user(&p.id, "dora", "sub-dora"), "dora"))
        .await
        .unwrap();
    let read = store.user(&p.id, "dora").await.unwrap().unwrap();
    assert_eq!(read.version, 0);

    // An administrator disables the user...
    let mut disabled = read.clone();
    disabled.enabled = false;
    assert!(store.save_user(change(&disabled, "dora")).await.unwrap());
    // ...while a password change prepared from the same read tries to land after it.
    let mut new_password = read.clone();
    new_password.password_hash = Some("$argon2id$new".into());
    assert!(matches!(
        store.save_user(change(&new_password, "dora")).await,
        Err(StoreError::Stale)
    ));
    let stored = store.user(&p.id, "dora").await.unwrap().unwrap();
    assert!(
        !stored.enabled,
        "the stale write did not re-enable the user"
    );
    assert_eq!(stored.password_hash.as_deref(), Some("$argon2id$fake"));
    assert_eq!(stored.version, 1);

    // Redone from a fresh read, the change lands and keeps the other one.
    let mut redone = stored.clone();
    redone.password_hash = Some("$argon2id$new".into());
    assert!(store.save_user(change(&redone, "dora")).await.unwrap());
    let stored = store.user(&p.id, "dora").await.unwrap().unwrap();
    assert!(!stored.enabled);
    assert_eq!(stored.password_hash.as_deref(), Some("$argon2id$new"));
    assert_eq!(stored.version, 2);

    // Many writers from one read, at once: exactly one lands.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let mut mine = stored.clone();
            mine.attributes.insert("name".into(), format!("writer {i}"));
            tokio::spawn(async move { store.save_user(change(&mine, "dora")).await })
        })
        .collect();
    let mut landed = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(true) => landed += 1,
            Err(StoreError::Stale) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(landed, 1);
    assert_eq!(store.user(&p.id, "dora").await.unwrap().unwrap().version, 3);

    // A user that is gone is not stale, just absent.
    assert!(store.delete_user(&p.id, "dora").await.unwrap());
    assert!(!store.save_user(change(&stored, "dora")).await.unwrap());
}

fn code(purpose: CodePurpose, digits: &str) -> OneTimeCode {
    OneTimeCode {
        purpose,
        code: digits.into(),
        expires_at: at(5_000),
        pending_value: None,
    }
}

/// However many callers try at once, no more attempt slots are taken than the cap; a new
/// or used code does not give the slots back, clearing does, and a window that has passed
/// starts the count again.
async fn code_attempts_never_exceed_the_cap(store: &Store) {
    let p = pool("us-east-1_Attempts0");
    store.insert_user_pool(&p, &[]).await.unwrap();
    store
        .insert_user(change(&user(&p.id, "eve", "sub-eve"), "eve"))
        .await
        .unwrap();
    let limit = AttemptLimit {
        cap: 5,
        window: Duration::from_secs(3600),
    };
    let take = |purpose, action, now| {
        let store = store.clone();
        let pool_id = p.id.clone();
        async move {
            store
                .take_code_attempt(&pool_id, "eve", purpose, action, limit, now)
                .await
                .unwrap()
        }
    };
    let burst = |purpose, action, now| {
        let tasks: Vec<_> = (0..24)
            .map(|_| tokio::spawn(take(purpose, action, now)))
            .collect();
        async move {
            let mut taken = 0;
            for task in tasks {
                taken += u32::from(task.await.unwrap());
            }
            taken
        }
    };
    let now = at(1_000);
    assert_eq!(
        burst(CodePurpose::ForgotPassword, CodeAction::Guess, now).await,
        5
    );
    assert!(!take(CodePurpose::ForgotPassword, CodeAction::Guess, now).await);
    // Other purposes and actions count on their own.
    assert_eq!(
        burst(CodePurpose::ForgotPassword, CodeAction::Issue, now).await,
        5
    );
    assert!(take(CodePurpose::SignUp, CodeAction::Guess, now).await);

    // A new code changes nothing about the guesses spent.
    assert!(store
        .put_code(&p.id, "eve", &code(CodePurpose::ForgotPassword, "111111"))
        .await
        .unwrap());
    assert!(!take(CodePurpose::ForgotPassword, CodeAction::Guess, now).await);
    // Within the window nothing changes; once it has passed, a new one opens.
    let later = now + Duration::from_secs(3599);
    assert!(!take(CodePurpose::ForgotPassword, CodeAction::Guess, later).await);
    let next_window = now + Duration::from_secs(3600);
    assert_eq!(
        burst(CodePurpose::ForgotPassword, CodeAction::Guess, next_window).await,
        5
    );

    // Using or voiding a code leaves the counts as they are; clearing the guesses (a right
    // one was made) leaves the issues.
    let mut read = store.user(&p.id, "eve").await.unwrap().unwrap();
    read.status = UserStatus::Confirmed;
    assert!(store
        .save_user(UserChange {
            consume_codes: &[CodePurpose::ForgotPassword],
            ..change(&read, "eve")
        })
        .await
        .unwrap());
    assert!(store
        .code(&p.id, "eve", CodePurpose::ForgotPassword)
        .await
        .unwrap()
        .is_none());
    assert!(!take(CodePurpose::ForgotPassword, CodeAction::Guess, next_window).await);
    store
        .clear_code_attempts(&p.id, "eve", CodePurpose::ForgotPassword, CodeAction::Guess)
        .await
        .unwrap();
    assert!(take(CodePurpose::ForgotPassword, CodeAction::Guess, next_window).await);
    assert!(!take(CodePurpose::ForgotPassword, CodeAction::Issue, now).await);

    // A deleted user's counts go with it: the same name again starts afresh.
    assert!(store.delete_user(&p.id, "eve").await.unwrap());
    store
        .insert_user(change(&user(&p.id, "eve", "sub-eve-2"), "eve"))
        .await
        .unwrap();
    assert!(take(CodePurpose::ForgotPassword, CodeAction::Issue, now).await);
}

/// Issuing a code writes only the code: the user row, its version and any concurrent write
/// to it are untouched. A user that is gone gets no code.
async fn codes_are_issued_without_touching_the_user(store: &Store) {
    let p = pool("us-east-1_Codes0000");
    store.insert_user_pool(&p, &[]).await.unwrap();
    let fred = user(&p.id, "fred", "sub-fred");
    store.insert_user(change(&fred, "fred")).await.unwrap();
    let first = code(CodePurpose::SignUp, "123456");
    assert!(store.put_code(&p.id, "fred", &first).await.unwrap());
    assert_eq!(
        store
            .code(&p.id, "fred", CodePurpose::SignUp)
            .await
            .unwrap(),
        Some(first)
    );
    let mut second = code(CodePurpose::SignUp, "654321");
    second.pending_value = Some("new@example.com".into());
    assert!(store.put_code(&p.id, "fred", &second).await.unwrap());
    assert_eq!(
        store
            .code(&p.id, "fred", CodePurpose::SignUp)
            .await
            .unwrap(),
        Some(second)
    );
    assert_eq!(store.user(&p.id, "fred").await.unwrap().unwrap(), fred);
    for sealed in all_bytes(store, "SELECT sealed_code FROM user_codes").await {
        assert!(!contains(&sealed, b"654321"));
    }
    assert!(!store
        .put_code(&p.id, "ghost", &code(CodePurpose::SignUp, "000000"))
        .await
        .unwrap());
    assert!(store
        .code(&p.id, "ghost", CodePurpose::SignUp)
        .await
        .unwrap()
        .is_none());
}

/// Issue 13: a user's MFA preferences and software-token secrets survive a write and a
/// read, the secrets never reach the database in the clear, and a software-token step is
/// accepted once, also when many callers claim it at the same moment; no save of the user
/// row sets the claimed step back.
async fn mfa_round_trips_sealed_and_steps_are_claimed_once(store: &Store) {
    use tessera_core::totp::TotpSecret;
    use tessera_core::MfaFactor;
    let p = pool("us-east-1_Mfa000000");
    store.insert_user_pool(&p, &[]).await.unwrap();
    let mut gina = user(&p.id, "gina", "sub-gina");
    store.insert_user(change(&gina, "gina")).await.unwrap();
    let read = store.user(&p.id, "gina").await.unwrap().unwrap();
    assert!(read.mfa.is_empty());
    let secret = TotpSecret::from_bytes(vec![7u8; 32]).unwrap();
    let pending = TotpSecret::from_bytes(vec![9u8; 32]).unwrap();
    gina.mfa.totp = Some(secret.clone());
    gina.mfa.totp_pending = Some(pending.clone());
    gina.mfa
        .preferences
        .set(MfaFactor::SoftwareToken, true, true);
    gina.mfa.preferences.totp_name = Some("phone".into());
    assert!(store.save_user(change(&gina, "gina")).await.unwrap());
    let read = store.user(&p.id, "gina").await.unwrap().unwrap();
    assert_eq!(read.mfa, gina.mfa);
    for sealed in all_bytes(
        store,
        "SELECT sealed_totp FROM users WHERE sealed_totp IS NOT NULL",
    )
    .await
    {
        assert!(!contains(&sealed, secret.to_base32().as_bytes()));
        assert!(!contains(&sealed, pending.to_base32().as_bytes()));
    }

    assert_eq!(store.totp_last_step(&p.id, "gina").await.unwrap(), None);
    let claims: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let pool_id = p.id.clone();
            tokio::spawn(async move { store.claim_totp_step(&pool_id, "gina", 1000).await })
        })
        .collect();
    let mut won = 0;
    for claim in claims {
        if claim.await.unwrap().unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1, "one caller, and only one, accepts a step");
    assert!(!store.claim_totp_step(&p.id, "gina", 999).await.unwrap());
    // A save of the user from a read taken before the claim keeps the claimed step.
    let mut later = read.clone();
    later.mfa.totp_pending = None;
    assert!(store.save_user(change(&later, "gina")).await.unwrap());
    assert_eq!(
        store.totp_last_step(&p.id, "gina").await.unwrap(),
        Some(1000)
    );
    assert!(store.claim_totp_step(&p.id, "gina", 1001).await.unwrap());
    assert!(!store.claim_totp_step(&p.id, "ghost", 5).await.unwrap());
}

/// Issue 13: a device is issued unconfirmed, confirmed once (one conditional statement),
/// its verifier sealed; it belongs to one user; forgetting it removes the refresh tokens
/// issued to it and no others; deleting the user removes the user's devices.
async fn devices_are_confirmed_once_sealed_and_forgotten_with_their_tokens(store: &Store) {
    use tessera_core::{Device, SrpVerifier};
    let p = pool("us-east-1_Dev000000");
    store.insert_user_pool(&p, &[]).await.unwrap();
    let hana = user(&p.id, "hana", "sub-hana");
    store.insert_user(change(&hana, "hana")).await.unwrap();
    let mut device = Device {
        pool_id: p.id.clone(),
        username_key: "hana".into(),
        device_key: "us-east-1_0000-dev".into(),
        group_key: "-group123".into(),
        verifier: None,
        name: None,
        remembered: false,
        created_at: at(10),
        last_modified_at: at(10),
        last_authenticated_at: at(10),
    };
    store.insert_device(&device).await.unwrap();
    assert_eq!(
        store
            .device(&p.id, "hana", &device.device_key)
            .await
            .unwrap()
            .unwrap(),
        device
    );
    assert!(store
        .device(&p.id, "other", &device.device_key)
        .await
        .unwrap()
        .is_none());
    device.verifier = Some(SrpVerifier {
        salt: vec![5; 16],
        verifier: b"device-verifier-bytes".to_vec(),
    });
    device.name = Some("laptop".into());
    device.remembered = true;
    device.last_modified_at = at(20);
    let confirms: Vec<_> = (0..4)
        .map(|_| {
            let (store, device) = (store.clone(), device.clone());
            tokio::spawn(async move { store.confirm_device(&device).await })
        })
        .collect();
    let mut won = 0;
    for confirm in confirms {
        if confirm.await.unwrap().unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1, "a device is confirmed once");
    assert_eq!(
        store
            .device(&p.id, "hana", &device.device_key)
            .await
            .unwrap()
            .unwrap(),
        device
    );
    for sealed in all_bytes(
        store,
        "SELECT sealed_verifier FROM devices WHERE sealed_verifier IS NOT NULL",
    )
    .await
    {
        assert!(!contains(&sealed, b"device-verifier-bytes"));
    }
    assert!(store
        .set_device_remembered(&p.id, "hana", &device.device_key, false, at(30))
        .await
        .unwrap());
    assert!(!store
        .set_device_remembered(&p.id, "other", &device.device_key, false, at(30))
        .await
        .unwrap());
    assert_eq!(
        store
            .devices(&p.id, "hana", "", 10, false)
            .await
            .unwrap()
            .len(),
        1
    );

    let mut bound = refresh(&p.id, "hana", "bound", "origin-1");
    bound.device_key = Some(device.device_key.clone());
    store.insert_refresh_token(&bound, None).await.unwrap();
    store
        .insert_refresh_token(&refresh(&p.id, "hana", "unbound", "origin-2"), None)
        .await
        .unwrap();
    assert_eq!(
        store
            .refresh_token("bound")
            .await
            .unwrap()
            .unwrap()
            .device_key,
        bound.device_key
    );
    assert!(!store
        .delete_device(&p.id, "other", &device.device_key)
        .await
        .unwrap());
    assert!(store
        .delete_device(&p.id, "hana", &device.device_key)
        .await
        .unwrap());
    assert!(store.refresh_token("bound").await.unwrap().is_none());
    assert!(store.refresh_token("unbound").await.unwrap().is_some());

    store
        .insert_device(&Device {
            verifier: None,
            device_key: "us-east-1_0001-dev".into(),
            ..device.clone()
        })
        .await
        .unwrap();
    store.delete_user(&p.id, "hana").await.unwrap();
    assert!(store
        .devices(&p.id, "hana", "", 10, false)
        .await
        .unwrap()
        .is_empty());
}

mod authorization;
mod federation;
mod identity;
mod identity_provider;
mod oauth;
mod shared_cache;
mod sign_in;
