//! One PostgreSQL database per test, cloned from a migrated template database.

use std::sync::OnceLock;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .expect("TEST_DATABASE_URL must point at a PostgreSQL server (make test sets it)")
}

fn url_for(database: &str) -> String {
    let admin = admin_url();
    let (base, _) = admin
        .rsplit_once('/')
        .expect("TEST_DATABASE_URL has a database path");
    format!("{base}/{database}")
}

/// The template's name carries a hash of the migrations, so an edited migration gets a
/// fresh template instead of a stale one.
fn template_name() -> String {
    use sha2::{Digest, Sha256};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let mut files: Vec<_> = walk(&dir);
    files.sort();
    let mut hash = Sha256::new();
    for f in files {
        hash.update(f.to_string_lossy().as_bytes());
        hash.update(std::fs::read(&f).unwrap());
    }
    let digest = hash.finalize();
    format!("convoy_tpl_{}", &hex(&digest)[..16])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

async fn execute(url: &str, sql: &str) -> diesel::QueryResult<usize> {
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL: {e}"));
    diesel::sql_query(sql).execute(&mut conn).await
}

/// Creates the template once per process (and tolerates another process racing us).
fn ensure_template() -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let name = template_name();
        std::thread::spawn({
            let name = name.clone();
            move || {
                let rt = tokio::runtime::Runtime::new().unwrap();
                rt.block_on(async {
                    let admin = admin_url();
                    let exists = format!(
                        "SELECT 1 FROM pg_database WHERE datname = '{name}' AND datistemplate"
                    );
                    if execute(&admin, &exists).await.unwrap() == 1 {
                        return;
                    }
                    let building = format!("{name}_building_{}", std::process::id());
                    execute(&admin, &format!("DROP DATABASE IF EXISTS {building}"))
                        .await
                        .unwrap();
                    execute(&admin, &format!("CREATE DATABASE {building}"))
                        .await
                        .unwrap();
                    convoy::db::migrate(&url_for(&building)).await.unwrap();
                    // Renaming is atomic: a racing process either sees the finished
                    // template or fails to rename and drops its own copy.
                    let renamed = execute(
                        &admin,
                        &format!("ALTER DATABASE {building} RENAME TO {name}"),
                    )
                    .await;
                    if renamed.is_ok() {
                        execute(
                            &admin,
                            &format!("ALTER DATABASE {name} WITH IS_TEMPLATE true"),
                        )
                        .await
                        .unwrap();
                    } else {
                        execute(&admin, &format!("DROP DATABASE {building}"))
                            .await
                            .unwrap();
                    }
                });
            }
        })
        .join()
        .expect("template creation");
        name
    })
}

pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> Self {
        let template = ensure_template();
        let name = format!("convoy_test_{}", uuid::Uuid::new_v4().simple());
        execute(
            &admin_url(),
            &format!("CREATE DATABASE {name} TEMPLATE {template}"),
        )
        .await
        .unwrap();
        Self {
            url: url_for(&name),
            name,
        }
    }

    pub async fn conn(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop runs inside the test's runtime; a separate thread and runtime avoid
        // blocking it.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(execute(&admin_url(), &sql))
        })
        .join();
    }
}
