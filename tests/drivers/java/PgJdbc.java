// PgJdbc.java -- pgjdbc (Debian's libpostgresql-jdbc-java) through weir, with
// prepareThreshold=1: every PreparedStatement is a named server-side statement from its first
// execution. Usage: java -cp DIR:/usr/share/java/postgresql.jar PgJdbc HOST PORT USER PASSWORD
// DBNAME MODE.
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.sql.Types;
import java.time.LocalDateTime;
import java.util.List;

public final class PgJdbc {
    static Tap tap;
    static String table;

    static Connection connect() throws Exception {
        return connect("drv-pgjdbc");
    }

    static Connection connect(String app) throws Exception {
        String url = "jdbc:postgresql://" + tap.host + ":" + tap.port + "/" + tap.db
                + "?prepareThreshold=1&sslmode=disable&connectTimeout=90"
                + "&ApplicationName=" + app;
        return DriverManager.getConnection(url, tap.user, tap.password);
    }

    static void insert(Connection c, int id, Object[] r) throws Exception {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + table
                + " (id, i, b, t, n, f, ts, by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
            ps.setInt(1, id);
            int[] sqlTypes = {Types.INTEGER, Types.BIGINT, Types.VARCHAR, Types.NUMERIC,
                Types.BOOLEAN, Types.TIMESTAMP, Types.BINARY};
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
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT i, b, t, n, f, ts, by FROM " + table + " WHERE id = ?")) {
            ps.setInt(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                Tap.check(rs.next(), "no row " + id);
                return row(rs);
            }
        }
    }

    static long count(Connection c, String where, int arg) throws Exception {
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT count(*) FROM " + table + " WHERE " + where)) {
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
        table = "drv_pgjdbc_" + tap.mode;

        tap.run("setup", () -> {
            try (Connection c = connect(); Statement s = c.createStatement()) {
                s.execute("DROP TABLE IF EXISTS " + table);
                s.execute("CREATE TABLE " + table + " (id int PRIMARY KEY, i int, b bigint,"
                        + " t text, n numeric(20,6), f boolean, ts timestamp, by bytea)");
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
                    try (Statement s = c.createStatement();
                            ResultSet rs = s.executeQuery(
                                    "SELECT count(*) FROM pg_prepared_statements")) {
                        rs.next();
                        Tap.check(rs.getLong(1) >= 1,
                                "server-side statements on the server: " + rs.getLong(1));
                    }
                    c.commit();
                }
                try (PreparedStatement ps = c.prepareStatement("SELECT ?::int, ?::bigint,"
                        + " ?::text, ?::numeric, ?::boolean, ?::timestamp, ?::bytea")) {
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
                Tap.fails("22012", "division by zero", () -> {
                    try (PreparedStatement ps = c.prepareStatement("SELECT 1 / ?::int")) {
                        ps.setInt(1, 0);
                        ps.executeQuery().close();
                    }
                });
                try (PreparedStatement ps = c.prepareStatement("SELECT ?::int + 1")) {
                    ps.setInt(1, 41);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        Tap.eq(rs.getInt(1), 42, "a query after the error");
                    }
                }
                c.setAutoCommit(false);
                insert(c, 10, ROW);
                Tap.fails("42P01", "missing table", () -> {
                    try (Statement s = c.createStatement()) {
                        s.executeQuery("SELECT * FROM no_such_table").close();
                    }
                });
                Tap.fails("25P02", "a query in the aborted transaction",
                        () -> count(c, "id = ?", 10));
                c.rollback();
                Tap.eq(count(c, "id = ?", 10), 0L, "row of the failed transaction");
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
                try (PreparedStatement ps = c.prepareStatement(
                        "SELECT g, md5(g::text) FROM generate_series(1, ?) g")) {
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
                try (PreparedStatement ps = c.prepareStatement("SELECT repeat(?, ?)")) {
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
                try (PreparedStatement ps = c.prepareStatement(
                        "SELECT md5(x), length(x) FROM (SELECT ?::bytea AS x) s")) {
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
                try (Connection c = connect("drv-client-" + k)) {
                    c.setAutoCommit(false);
                    barrier.await();
                    for (int j = 0; j < Tap.TXNS; j++) {
                        insert(c, 1000 + 100 * k + j, new Object[] {k, (long) j, Tap.TEXT,
                            Tap.NUMERIC, true, Tap.TIMESTAMP, Tap.BLOB});
                        try (PreparedStatement ps = c.prepareStatement("SELECT count(*), sum(b),"
                                + " min(t), sum(length(by)), current_setting('application_name')"
                                + " FROM " + table + " WHERE i = ? AND id >= 1000")) {
                            ps.setInt(1, k);
                            try (ResultSet rs = ps.executeQuery()) {
                                rs.next();
                                List<Object> got = List.of(rs.getLong(1), rs.getLong(2),
                                        rs.getString(3), rs.getLong(4), rs.getString(5));
                                Tap.eq(got, List.of((long) j + 1, (long) j * (j + 1) / 2, Tap.TEXT,
                                        (long) (j + 1) * Tap.BLOB.length, "drv-client-" + k),
                                        "client " + k + " txn " + j);
                            }
                        }
                        c.commit();
                    }
                    // and a statement on its own, outside any transaction
                    c.setAutoCommit(true);
                    try (PreparedStatement ps = c.prepareStatement("SELECT length(?::bytea)")) {
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
