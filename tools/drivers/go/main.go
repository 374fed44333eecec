// Test-only client: connects to obsim with go-sql-driver/mysql, as a Go program connects to OceanBase, runs
// each statement given on the command line and prints one JSON line per statement: the result's column names,
// the driver's database type names, for each row the Go type each value scanned into (nil for NULL), and the
// values themselves as text (null for NULL; times as "2006-01-02 15:04:05.999999").
// Usage: client <dsn> <statement>...
package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

type result struct {
	SQL     string      `json:"sql"`
	Columns []string    `json:"columns"`
	Types   []string    `json:"types"`
	Rows    [][]string  `json:"rows"`
	Values  [][]*string `json:"values"`
	Error   string      `json:"error,omitempty"`
}

func run(db *sql.DB, statement string) result {
	out := result{SQL: statement, Columns: []string{}, Types: []string{}, Rows: [][]string{}, Values: [][]*string{}}
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
		texts := make([]*string, len(values))
		for i, v := range values {
			if v == nil {
				kinds[i] = "nil"
			} else {
				kinds[i] = fmt.Sprintf("%T", v)
				text := asText(v)
				texts[i] = &text
			}
		}
		out.Rows = append(out.Rows, kinds)
		out.Values = append(out.Values, texts)
	}
	if err := rows.Err(); err != nil {
		out.Error = err.Error()
	}
	return out
}

// asText is a scanned value as text: bytes as they came, numbers in decimal, times in MySQL's format.
func asText(v any) string {
	switch v := v.(type) {
	case []byte:
		return string(v)
	case time.Time:
		return v.Format("2006-01-02 15:04:05.999999")
	default:
		return fmt.Sprint(v)
	}
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
