"""Test-only client: connects to obsim with PyMySQL, as a Python program connects to OceanBase, runs each
statement given on the command line and prints one JSON line per statement: the result's column names, the
driver's field type codes, and for each row the Python type each value decoded into (NoneType for NULL).

Usage: client.py <host> <port> <user> <password> <statement>...
"""

import json
import sys

import pymysql


def run(connection, statement):
    out = {"sql": statement, "columns": [], "types": [], "rows": []}
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
            for column in cursor.description or ():
                out["columns"].append(column[0])
                out["types"].append(str(column[1]))
            for row in cursor.fetchall():
                out["rows"].append([type(value).__name__ for value in row])
    except pymysql.MySQLError as error:
        out["error"] = str(error)
    return out


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    host, port, user, password = sys.argv[1:5]
    connection = pymysql.connect(
        host=host, port=int(port), user=user, password=password, charset="utf8mb4", connect_timeout=10
    )
    try:
        for statement in sys.argv[5:]:
            print(json.dumps(run(connection, statement)), flush=True)
    finally:
        connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
