# my_mysqldb.py -- mysqlclient (Debian's python3-mysqldb, on MariaDB Connector/C) through
# weir; the cases are my_dbapi.py's. Usage: HOST PORT USER PASSWORD DBNAME MODE.
import MySQLdb

import my_dbapi

A = my_dbapi.A


def connect(autocommit):
    c = MySQLdb.connect(host=A["host"], port=A["port"], user=A["user"], passwd=A["password"],
                        db=A["db"], charset="utf8mb4", connect_timeout=30,
                        binary_prefix=True)
    c.autocommit(autocommit)
    return c


my_dbapi.run("mysqldb", connect, lambda e: e.args[0] if isinstance(e, MySQLdb.MySQLError) else None)
