# my_pymysql.py -- PyMySQL (Debian's python3-pymysql) through weir: a pure-Python MySQL
# protocol client without MariaDB's extensions; the cases are my_dbapi.py's. Usage: HOST PORT
# USER PASSWORD DBNAME MODE.
import pymysql

import my_dbapi

A = my_dbapi.A


def connect(autocommit):
    return pymysql.connect(host=A["host"], port=A["port"], user=A["user"],
                           password=A["password"], database=A["db"], charset="utf8mb4",
                           autocommit=autocommit, connect_timeout=30,
                           binary_prefix=True)


my_dbapi.run("pymysql", connect, lambda e: e.args[0] if isinstance(e, pymysql.MySQLError) else None)
