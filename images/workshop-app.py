#!/usr/bin/python3
"""The EKS workshop's "security groups for pods" app (image fmedery/app:latest).

Every ~5 s: connect to PostgreSQL with the pod's environment (HOST, DBNAME, USER, PASSWORD;
connect timeout 5 s) and print the rows of `welcome`, or why it failed — a green pod prints
[('--------------------------',), ('Welcome to the eksworkshop',), ('--------------------------',)]
and a red one `Database connection failed due to timeout expired`.
"""
import os
import re
import sys
import time

import psycopg2


def reason(error: Exception) -> str:
    """The failure as the workshop image's libpq worded it: libpq 14+ prefixes
    'connection to server at "…", port … failed: ' to what older ones said ('timeout expired')."""
    message = str(error).strip()
    match = re.match(r'connection to server at "[^"]*"(?: \([^)]*\))?, port \d+ failed: (.*)', message, re.S)
    return match.group(1).strip() if match else message


def once() -> None:
    try:
        connection = psycopg2.connect(
            host=os.environ.get("HOST"),
            dbname=os.environ.get("DBNAME"),
            user=os.environ.get("USER"),
            password=os.environ.get("PASSWORD"),
            connect_timeout=5,
        )
    except Exception as error:  # the workshop app reports every failure the same way
        print(f"Database connection failed due to {reason(error)}", flush=True)
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM welcome;")
            print(cursor.fetchall(), flush=True)
    except Exception as error:
        print(f"Database query failed due to {reason(error)}", flush=True)
    finally:
        connection.close()


def main() -> int:
    interval = float(os.environ.get("SGPODS_APP_INTERVAL_SECONDS", "5"))
    while True:
        once()
        time.sleep(interval)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
