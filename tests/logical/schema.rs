//! The schema the logical-backup tests dump: two databases, a table with every common column type (JSON,
//! DECIMAL, DATETIME(6), TIMESTAMP, BLOB/TEXT, BIT, ENUM/SET, TIME, YEAR, a vector, a generated column), a
//! table with a composite key and a name that needs quoting, a table without a primary key, a unique key, a
//! foreign key to a table named after it, and a view across the databases — and a writer that inserts,
//! updates and deletes while a dump runs.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use mysql_async::{Conn, OptsBuilder, Row, Value, prelude::Queryable};

use super::seekdb::Seekdb;

#[derive(Clone)]
pub struct Workload {
    shop: String,
    crm: String,
}

/// A small deterministic generator: the same rows on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// An order's values, in the column order of [`ORDER_COLUMNS`].
fn order_values(i: u64, random: &mut Lcg) -> String {
    let r = random.next();
    let amount = if i.is_multiple_of(17) {
        "NULL".to_string()
    } else {
        format!("{}.{:06}", r % 100_000, r % 1_000_000)
    };
    let f = match i % 50 {
        0 => "3.4028234e38".to_string(),
        1 => "-1.17549435e-38".to_string(),
        _ => format!("{}.{}", r % 1000, r % 97),
    };
    let d = if i % 50 == 2 {
        "1.7976931348623157e308".to_string()
    } else {
        format!("{}e-3", r % 1_000_000)
    };
    let ts = if i.is_multiple_of(13) {
        "NULL".to_string()
    } else {
        format!(
            "'2026-{:02}-{:02} {:02}:{:02}:{:02}.{:06}'",
            1 + r % 12,
            1 + r % 28,
            r % 24,
            r % 60,
            (r / 7) % 60,
            r % 1_000_000
        )
    };
    let payload: Vec<u8> = (0..(r % 40))
        .map(|k| ((r >> (k % 30)) & 0xff) as u8)
        .chain([0u8, 0x1a, b'\'', b'\\'])
        .collect();
    format!(
        "({customer}, {amount}, '2025-{month:02}-{day:02} 0{hour}:30:00.{micro:06}', {ts}, \
         'note {i}: it''s a \\\\ backslash,\\na new line, 表 and 😀', '{{\"i\": {i}, \"s\": \"x\\\\\"y\", \"list\": [1, 2.5, null]}}', \
         X'{payload}', {f}, {d}, b'{flag:03b}', '{status}', '{tags}', '2026-01-{day:02}', '{dur}', {year}, 'AB', X'00FF{bin:02X}', '[{e1},{e2},3]')",
        customer = 1 + i % 50,
        month = 1 + r % 12,
        day = 1 + r % 28,
        hour = r % 10,
        micro = r % 1_000_000,
        payload = hex(&payload),
        flag = i % 8,
        status = if i.is_multiple_of(2) { "new" } else { "paid" },
        tags = ["", "a", "a,b"][(i % 3) as usize],
        dur = if i.is_multiple_of(2) {
            "-12:34:56.789"
        } else {
            "838:59:59.000"
        },
        year = 1901 + r % 255,
        bin = i % 256,
        e1 = r % 100,
        e2 = (r % 7) as f64 / 4.0,
    )
}

const ORDER_COLUMNS: &str = "customer, amount, placed, ts, note, doc, payload, f, d, flag, status, tags, day, dur, yr, code, bin, emb";

impl Workload {
    /// Creates the schema with `orders` rows (dropping what an earlier run left).
    pub async fn create(server: &Seekdb, tag: &str, orders: u64) -> Self {
        let workload = Self {
            shop: format!("{tag}_shop"),
            crm: format!("{tag}-crm db"),
        };
        let mut conn = server.conn().await;
        for database in [&workload.shop, &workload.crm] {
            conn.query_drop(format!("DROP DATABASE IF EXISTS `{database}`"))
                .await
                .expect("drop");
            conn.query_drop(format!("CREATE DATABASE `{database}`"))
                .await
                .expect("create database");
        }
        let statements = [
            format!(
                "CREATE TABLE `{}`.orders (id BIGINT PRIMARY KEY AUTO_INCREMENT, customer INT NOT NULL, \
                 amount DECIMAL(20,6), placed DATETIME(6), ts TIMESTAMP(6) NULL, note TEXT, doc JSON, payload BLOB, \
                 f FLOAT, d DOUBLE, flag BIT(3), status ENUM('new','paid'), tags SET('a','b'), day DATE, dur TIME(3), \
                 yr YEAR, code CHAR(4), bin VARBINARY(16), emb VECTOR(3), total DECIMAL(22,6) AS (amount * 2) VIRTUAL, \
                 KEY by_customer (customer))",
                workload.shop
            ),
            format!(
                "CREATE TABLE `{}`.`order items` (order_id BIGINT, line INT, name VARCHAR(200), qty INT, \
                 PRIMARY KEY (order_id, line))",
                workload.shop
            ),
            format!(
                "CREATE TABLE `{}`.customers (id INT PRIMARY KEY, name VARCHAR(100), email VARCHAR(100), \
                 UNIQUE KEY by_email (email))",
                workload.crm
            ),
            format!(
                "CREATE TABLE `{}`.notes (customer INT, body TEXT, at DATETIME)",
                workload.crm
            ),
            // Named before the table its foreign key refers to: a restore creating tables in name order must
            // not check the key.
            format!(
                "CREATE TABLE `{}`.addresses (id INT PRIMARY KEY, customer INT NOT NULL, city VARCHAR(40), \
                 FOREIGN KEY (customer) REFERENCES `{}`.customers (id))",
                workload.crm, workload.crm
            ),
            format!(
                "CREATE VIEW `{}`.big_orders AS SELECT c.id, c.name, o.amount FROM `{}`.customers c \
                 JOIN `{}`.orders o ON o.customer = c.id WHERE o.amount > 500",
                workload.crm, workload.crm, workload.shop
            ),
        ];
        for statement in statements {
            conn.query_drop(&statement)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        let mut random = Lcg(orders);
        let mut i = 0;
        while i < orders {
            let batch: Vec<String> = (i..(i + 200).min(orders))
                .map(|k| order_values(k, &mut random))
                .collect();
            let statement = format!(
                "INSERT INTO `{}`.orders ({ORDER_COLUMNS}) VALUES {}",
                workload.shop,
                batch.join(",")
            );
            conn.query_drop(&statement)
                .await
                .unwrap_or_else(|e| panic!("insert orders: {e}"));
            i += 200;
        }
        let items: Vec<String> = (0..orders.min(600))
            .map(|k| {
                format!(
                    "({}, {}, 'item \"{k}\" O''Brien', {})",
                    1 + k / 3,
                    k % 3,
                    k % 9
                )
            })
            .collect();
        conn.query_drop(format!(
            "INSERT INTO `{}`.`order items` VALUES {}",
            workload.shop,
            items.join(",")
        ))
        .await
        .expect("items");
        let customers: Vec<String> = (1..=50)
            .map(|k| format!("({k}, 'customer {k}', 'c{k}@example.com')"))
            .collect();
        conn.query_drop(format!(
            "INSERT INTO `{}`.customers VALUES {}",
            workload.crm,
            customers.join(",")
        ))
        .await
        .expect("customers");
        let notes: Vec<String> = (0..120)
            .map(|k| format!("({}, 'note {k}', '2026-03-01 10:00:{:02}')", k % 50, k % 60))
            .collect();
        conn.query_drop(format!(
            "INSERT INTO `{}`.notes VALUES {}",
            workload.crm,
            notes.join(",")
        ))
        .await
        .expect("notes");
        let addresses: Vec<String> = (1..=50)
            .map(|k| format!("({k}, {k}, 'city {k}')"))
            .collect();
        conn.query_drop(format!(
            "INSERT INTO `{}`.addresses VALUES {}",
            workload.crm,
            addresses.join(",")
        ))
        .await
        .expect("addresses");
        workload
    }

    pub fn databases(&self) -> Vec<&str> {
        vec![self.shop.as_str(), self.crm.as_str()]
    }

    /// The tables, as `database.table`.
    pub fn tables(&self) -> Vec<String> {
        vec![
            self.orders(),
            format!("{}.order items", self.shop),
            format!("{}.addresses", self.crm),
            format!("{}.customers", self.crm),
            format!("{}.notes", self.crm),
        ]
    }

    pub fn orders(&self) -> String {
        format!("{}.orders", self.shop)
    }

    /// The view, quoted.
    pub fn view(&self) -> String {
        format!("`{}`.big_orders", self.crm)
    }

    /// Inserts, updates and deletes until `stop`, counting rounds in `writes`.
    pub async fn write_until(self, port: u16, stop: Arc<AtomicBool>, writes: Arc<AtomicU64>) {
        let opts = OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(port)
            .user(Some("root"))
            .prefer_socket(false);
        let mut conn = Conn::new(opts).await.expect("writer connects");
        let mut random = Lcg(7);
        let mut round = 0u64;
        while !stop.load(Ordering::Relaxed) {
            round += 1;
            let statements = [
                format!(
                    "INSERT INTO `{}`.orders ({ORDER_COLUMNS}) VALUES {}",
                    self.shop,
                    order_values(round, &mut random)
                ),
                format!(
                    "UPDATE `{}`.orders SET amount = amount + 1, note = 'updated' WHERE id = {}",
                    self.shop,
                    1 + round % 500
                ),
                format!(
                    "INSERT INTO `{}`.`order items` VALUES ({}, {}, 'late', 1)",
                    self.shop,
                    100_000 + round,
                    round
                ),
                format!(
                    "UPDATE `{}`.customers SET name = 'renamed {round}' WHERE id = {}",
                    self.crm,
                    1 + round % 50
                ),
                format!(
                    "DELETE FROM `{}`.notes WHERE customer = {} LIMIT 1",
                    self.crm,
                    round % 50
                ),
            ];
            for statement in statements {
                conn.query_drop(&statement)
                    .await
                    .unwrap_or_else(|e| panic!("{statement}: {e}"));
            }
            writes.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// How exactly two tables are compared.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Fidelity {
    /// Every value bit for bit.
    Exact,
    /// `FLOAT`s to the 6 significant digits MySQL's text protocol sends (what a dump read through it keeps);
    /// everything else bit for bit.
    FloatsToSixDigits,
}

/// A value in full (`Value`'s `Debug` shortens long bytes): bytes as hex, floats by their bits.
fn exact(value: &Value, fidelity: Fidelity) -> String {
    match value {
        Value::Bytes(bytes) => format!("bytes:{}", hex(bytes)),
        Value::Float(f) if fidelity == Fidelity::FloatsToSixDigits => format!("float:{f:.5e}"),
        Value::Float(f) => format!("float:{:08x}", f.to_bits()),
        Value::Double(d) => format!("double:{:016x}", d.to_bits()),
        other => format!("{other:?}"),
    }
}

/// Every row of `table` (`database.table`), at `scn` when given, as text, sorted: two tables hold the same
/// rows exactly when these are equal (values read over the binary protocol, so exact).
pub async fn table_rows(
    conn: &mut Conn,
    table: &str,
    scn: Option<u64>,
    fidelity: Fidelity,
) -> Vec<String> {
    let (database, name) = table.split_once('.').expect("database.table");
    let at = scn
        .map(|scn| format!(" AS OF SNAPSHOT {scn}"))
        .unwrap_or_default();
    let rows: Vec<Row> = conn
        .exec(format!("SELECT * FROM `{database}`.`{name}`{at}"), ())
        .await
        .unwrap_or_else(|e| panic!("read {table}: {e}"));
    let mut rows: Vec<String> = rows
        .into_iter()
        .map(|row| {
            row.unwrap()
                .iter()
                .map(|v| exact(v, fidelity))
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect();
    rows.sort();
    rows
}

/// Every `.done` record under `dir` (none while it does not exist) with its modification time.
pub fn done_records(dir: &std::path::Path) -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "done") {
                found.push((
                    path,
                    entry
                        .metadata()
                        .and_then(|m| m.modified())
                        .expect("modified"),
                ));
            }
        }
    }
    found
}
