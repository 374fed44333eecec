// Test-only tool: a MySQL client built on go-sql-driver/mysql, run against obsim by obsim/tests/sim/drivers.rs.
module obbackup.dev/tools/drivers/go

go 1.26.0

require github.com/go-sql-driver/mysql v1.10.1

require filippo.io/edwards25519 v1.2.0 // indirect
