// Package crashtest holds banco's proof under load and under faults: tests
// only. A seeded workload of concurrent customers moves money over real
// mutual TLS, against banksrv in-process and against real "banco serve"
// processes that are killed with SIGKILL and restarted, on SQLite and on
// PostgreSQL, and the tests then check from the journal that no money was
// lost, invented or moved twice. TESTING.md at the repository root says what
// each test does and how to rerun a failing case with its seed.
package crashtest
