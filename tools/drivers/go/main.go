// Test-only client: connects to obsim with go-sql-driver/mysql, as a Go program connects to OceanBase, runs
// each statement given on the command line and prints one JSON line per statement: the result's column names,
// the driver's database type names, and for each row the Go type each value scanned into (nil for NULL).
// Usage: client <dsn> <statement>...
package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"

	_ "github.com/go-sql-driver/mysql"
)

type result struct {
	SQL     string     `json:"sql"`
	Columns []string   `json:"columns"`
	Types   []string   `json:"types"`
	Rows    [][]string `json:"rows"`
	Error   string     `json:"error,omitempty"`
}

func run(db *sql.DB, statement string) result {
	out := result{SQL: statement, Columns: []string{}, Types: []string{}, Rows: [][]string{}}
	rows, err := db.Query(statement)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	defer rows.Close()
	columns, err := rows.ColumnTypes()
	if err != nil {
		out.Error = err.Error()
		return out
	}
	for _, c := range columns {
		out.Columns = append(out.Columns, c.Name())
		out.Types = append(out.Types, c.DatabaseTypeName())
	}
	for rows.Next() {
		values := make([]any, len(columns))
		pointers := make([]any, len(columns))
		for i := range values {
			pointers[i] = &values[i]
		}
		if err := rows.Scan(pointers...); err != nil {
			out.Error = err.Error()
			return out
		}
		kinds := make([]string, len(values))
		for i, v := range values {
			if v == nil {
				kinds[i] = "nil"
			} else {
				kinds[i] = fmt.Sprintf("%T", v)
			}
		}
		out.Rows = append(out.Rows, kinds)
	}
	if err := rows.Err(); err != nil {
		out.Error = err.Error()
	}
	return out
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: client <dsn> <statement>...")
		os.Exit(2)
	}
	db, err := sql.Open("mysql", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer db.Close()
	// One connection: session state (SET …) stays with the statements after it.
	db.SetMaxOpenConns(1)
	if err := db.Ping(); err != nil {
		fmt.Fprintln(os.Stderr, "connect:", err)
		os.Exit(1)
	}
	encoder := json.NewEncoder(os.Stdout)
	for _, statement := range os.Args[2:] {
		if err := encoder.Encode(run(db, statement)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
