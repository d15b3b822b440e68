// MariadbJ.java -- MariaDB Connector/J (Debian's libmariadb-java) through weir, with
// useServerPrepStmts=true: every PreparedStatement is a server-side statement
// (COM_STMT_PREPARE, then COM_STMT_EXECUTE with binary results). Usage: java -cp
// DIR:/usr/share/java/mariadb-java-client.jar MariadbJ HOST PORT USER PASSWORD DBNAME MODE.
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.sql.Types;
import java.time.LocalDateTime;
import java.util.List;

public final class MariadbJ {
    static Tap tap;
    static String table;

    static Connection connect() throws Exception {
        String url = "jdbc:mariadb://" + tap.host + ":" + tap.port + "/" + tap.db
                + "?useServerPrepStmts=true&connectTimeout=90000";
        return DriverManager.getConnection(url, tap.user, tap.password);
    }

    static PreparedStatement prepare(Connection c, String sql) throws Exception {
        PreparedStatement ps = c.prepareStatement(sql);
        // Connector/J falls back to a client-side statement when the server's answer to
        // COM_STMT_PREPARE is an error: that is a failure here.
        Tap.check(ps.getClass().getSimpleName().startsWith("ServerSide"),
                "COM_STMT_PREPARE failed (Connector/J fell back to a "
                        + ps.getClass().getSimpleName() + ") for: " + sql);
        return ps;
    }

    static void insert(Connection c, int id, Object[] r) throws Exception {
        try (PreparedStatement ps = prepare(c, "INSERT INTO " + table
                + " (id, i, b, t, n, f, ts, bl) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
            ps.setInt(1, id);
            int[] sqlTypes = {Types.INTEGER, Types.BIGINT, Types.VARCHAR, Types.DECIMAL,
                Types.BOOLEAN, Types.TIMESTAMP, Types.BLOB};
            for (int i = 0; i < 7; i++) {
                if (r[i] == null) ps.setNull(i + 2, sqlTypes[i]);
                else if (r[i] instanceof byte[]) ps.setBytes(i + 2, (byte[]) r[i]);
                else ps.setObject(i + 2, r[i]);
            }
            ps.executeUpdate();
        }
    }

    static Object[] row(ResultSet rs) throws Exception {
        return new Object[] {rs.getObject(1, Integer.class), rs.getObject(2, Long.class),
            rs.getString(3), rs.getBigDecimal(4), rs.getObject(5, Boolean.class),
            rs.getObject(6, LocalDateTime.class), rs.getBytes(7)};
    }

    static Object[] select(Connection c, int id) throws Exception {
        try (PreparedStatement ps = prepare(c,
                "SELECT i, b, t, n, f, ts, bl FROM " + table + " WHERE id = ?")) {
            ps.setInt(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                Tap.check(rs.next(), "no row " + id);
                return row(rs);
            }
        }
    }

    static long count(Connection c, String where, int arg) throws Exception {
        try (PreparedStatement ps = prepare(c,
                "SELECT COUNT(*) FROM " + table + " WHERE " + where)) {
            ps.setInt(1, arg);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    static void rowEq(Object[] got, Object[] want, String what) {
        for (int i = 0; i < want.length; i++) Tap.eq(got[i], want[i], what + ", column " + i);
    }

    static final Object[] ROW = {42, Tap.BIGINT, Tap.TEXT, Tap.NUMERIC, true, Tap.TIMESTAMP,
        Tap.BYTES};
    static final Object[] NULLS = new Object[7];

    public static void main(String[] args) throws Exception {
        tap = new Tap(args);
        table = "drv_mariadbj_" + tap.mode;

        tap.run("setup", () -> {
            try (Connection c = connect(); Statement s = c.createStatement()) {
                s.execute("DROP TABLE IF EXISTS " + table);
                s.execute("CREATE TABLE " + table + " (id INT PRIMARY KEY, i INT, b BIGINT,"
                        + " t VARCHAR(100), n DECIMAL(20,6), f BOOLEAN, ts DATETIME(6),"
                        + " bl LONGBLOB) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
            }
        });

        tap.run("types", () -> {
            try (Connection c = connect()) {
                c.setAutoCommit(false);
                insert(c, 1, ROW);
                insert(c, 2, NULLS);
                c.commit();
                for (int r = 0; r < 3; r++) {
                    rowEq(select(c, 1), ROW, "row 1, round " + r);
                    rowEq(select(c, 2), NULLS, "NULL row, round " + r);
                    c.commit();
                }
                try (PreparedStatement ps = prepare(c, "SELECT CAST(? AS SIGNED),"
                        + " CAST(? AS SIGNED), CAST(? AS CHAR), CAST(? AS DECIMAL(20,6)),"
                        + " ? IS TRUE, CAST(? AS DATETIME(6)), CAST(? AS BINARY)")) {
                    for (int i = 0; i < 6; i++) ps.setObject(i + 1, ROW[i]);
                    ps.setBytes(7, Tap.BYTES);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        rowEq(row(rs), ROW, "parameters echoed");
                    }
                }
                c.commit();
            }
        });

        tap.run("error", () -> {
            try (Connection c = connect()) {
                Tap.fails("23000", "duplicate key", () -> insert(c, 1, ROW));
                try (PreparedStatement ps = prepare(c, "SELECT ? + 1")) {
                    ps.setInt(1, 41);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        Tap.eq(rs.getInt(1), 42, "a query after the error");
                    }
                }
                c.setAutoCommit(false);
                insert(c, 10, ROW);
                Tap.fails("42S02", "missing table", () -> {
                    try (Statement s = c.createStatement()) {
                        s.executeQuery("SELECT * FROM no_such_table").close();
                    }
                });
                Tap.eq(count(c, "id = ?", 10), 1L, "row of the transaction after the error");
                c.rollback();
                Tap.eq(count(c, "id = ?", 10), 0L, "row after the rollback");
                c.commit();
            }
        });

        tap.run("rollback", () -> {
            try (Connection c = connect()) {
                c.setAutoCommit(false);
                insert(c, 100, ROW);
                Tap.eq(count(c, "id = ?", 100), 1L, "row inside the transaction");
                c.rollback();
                Tap.eq(count(c, "id = ?", 100), 0L, "row after the rollback");
                insert(c, 101, ROW);
                c.commit();
            }
            try (Connection c = connect()) {
                Tap.eq(count(c, "id = ?", 100), 0L, "rolled-back row, new connection");
                Tap.eq(count(c, "id = ?", 101), 1L, "committed row, new connection");
            }
        });

        tap.run("large", () -> {
            try (Connection c = connect()) {
                try (PreparedStatement ps = prepare(c,
                        "SELECT seq, MD5(seq) FROM seq_1_to_100000 WHERE seq <= ?")) {
                    ps.setInt(1, Tap.ROWS);
                    long n = 0, sum = 0;
                    String last = null;
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            n++;
                            sum += rs.getLong(1);
                            last = rs.getString(2);
                        }
                    }
                    Tap.eq(n, (long) Tap.ROWS, "rows");
                    Tap.eq(sum, (long) Tap.ROWS * (Tap.ROWS + 1) / 2, "sum of the rows");
                    Tap.eq(last, Tap.md5hex(String.valueOf(Tap.ROWS).getBytes()), "last row");
                }
                try (PreparedStatement ps = prepare(c, "SELECT REPEAT(?, ?)")) {
                    ps.setString(1, Tap.TEXT);
                    ps.setInt(2, Tap.BIG_REPEAT);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        String big = rs.getString(1);
                        Tap.check(big.equals(Tap.BIG_TEXT), "5 MB value: " + big.length()
                                + " characters, want " + Tap.BIG_TEXT.length());
                    }
                }
                byte[] v = Tap.uploadValue();
                try (PreparedStatement ps = prepare(c, "SELECT MD5(x), LENGTH(x)"
                        + " FROM (SELECT CAST(? AS BINARY) AS x) s")) {
                    ps.setBytes(1, v);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        Tap.eq(rs.getString(1), Tap.md5hex(v), "md5 of the 1 MiB parameter");
                        Tap.eq(rs.getInt(2), v.length, "length of the 1 MiB parameter");
                    }
                }
            }
        });

        tap.run("concurrent", () -> {
            tap.concurrently((k, barrier) -> {
                try (Connection c = connect()) {
                    String tz = String.format("+%02d:00", k); // session state of its own
                    try (Statement s = c.createStatement()) {
                        s.execute("SET time_zone = '" + tz + "'");
                    }
                    c.setAutoCommit(false);
                    barrier.await();
                    for (int j = 0; j < Tap.TXNS; j++) {
                        insert(c, 1000 + 100 * k + j, new Object[] {k, (long) j, Tap.TEXT,
                            Tap.NUMERIC, true, Tap.TIMESTAMP, Tap.BLOB});
                        try (PreparedStatement ps = prepare(c, "SELECT COUNT(*), SUM(b), MIN(t),"
                                + " SUM(LENGTH(bl)), @@time_zone FROM " + table
                                + " WHERE i = ? AND id >= 1000")) {
                            ps.setInt(1, k);
                            try (ResultSet rs = ps.executeQuery()) {
                                rs.next();
                                List<Object> got = List.of(rs.getLong(1), rs.getLong(2),
                                        rs.getString(3), rs.getLong(4), rs.getString(5));
                                Tap.eq(got, List.of((long) j + 1, (long) j * (j + 1) / 2, Tap.TEXT,
                                        (long) (j + 1) * Tap.BLOB.length, tz),
                                        "client " + k + " txn " + j);
                            }
                        }
                        c.commit();
                    }
                    // and a statement on its own, outside any transaction
                    c.setAutoCommit(true);
                    try (PreparedStatement ps = prepare(c, "SELECT LENGTH(?)")) {
                        ps.setBytes(1, Tap.BLOB);
                        try (ResultSet rs = ps.executeQuery()) {
                            rs.next();
                            Tap.eq(rs.getInt(1), Tap.BLOB.length,
                                    "client " + k + ": statement outside a transaction");
                        }
                    }
                    barrier.await();
                }
            });
            try (Connection c = connect()) {
                Tap.eq(count(c, "id >= ?", 1000), (long) Tap.CLIENTS * Tap.TXNS,
                        "rows of all clients");
            }
        });

        tap.done();
    }
}
